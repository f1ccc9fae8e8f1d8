#!/usr/bin/env bash
# Creates coursegen's Secrets in the namespace, each only if it is missing (a rerun rotates nothing):
#   coursegen-nats-<user>     username, password   one NATS user per service, the gateway, client and admin
#   coursegen-db-owner        password, url        the schema's owner: only the migration Job uses it
#   coursegen-db-app          password, url        the pipeline services' role: rows only, no DDL
#   coursegen-db-gateway      password, url        the gateway's role: rows of one company per transaction (RLS)
#   coursegen-gateway         secret-key           keys the gateway's CSRF tokens, one for all its replicas
#   coursegen-model           openai-api-key       only when OPENAI_API_KEY is set
# Passwords are random unless given (OWNER_PASSWORD, APP_PASSWORD, GATEWAY_PASSWORD, for a managed
# database whose roles exist already). DATABASE_HOST (default: postgres, the dev StatefulSet) and DATABASE_NAME
# (default: coursegen) make the URLs; DATABASE_SSLMODE (default: disable in dev) is added to them.
set -euo pipefail

NAMESPACE=${NAMESPACE:-coursegen}
DATABASE_HOST=${DATABASE_HOST:-postgres}
DATABASE_NAME=${DATABASE_NAME:-coursegen}
DATABASE_SSLMODE=${DATABASE_SSLMODE:-disable}
# Every NATS user of deploy/k8s/base/nats/authorization.conf: the services, the gateway, a client
# (publishes job requests, reads outcomes) and admin (for the nats CLI).
NATS_USERS="coordinator planner researcher content quality enhancer multimedia finalizer tracker gateway client admin"

random_password() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }

create() {  # create NAME KEY=VALUE...
    local name=$1
    shift
    if kubectl -n "$NAMESPACE" get secret "$name" >/dev/null 2>&1; then
        echo "secret/$name exists: kept"
        return
    fi
    local args=()
    for pair in "$@"; do args+=("--from-literal=$pair"); done
    kubectl -n "$NAMESPACE" create secret generic "$name" "${args[@]}"
}

kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl create namespace "$NAMESPACE"

for user in $NATS_USERS; do
    create "coursegen-nats-$user" "username=$user" "password=$(random_password)"
done

owner_password=${OWNER_PASSWORD:-$(random_password)}
app_password=${APP_PASSWORD:-$(random_password)}
gateway_password=${GATEWAY_PASSWORD:-$(random_password)}
create coursegen-db-owner "password=$owner_password" \
    "url=postgresql://coursegen:$owner_password@$DATABASE_HOST:5432/$DATABASE_NAME?sslmode=$DATABASE_SSLMODE"
create coursegen-db-app "password=$app_password" \
    "url=postgresql://coursegen_app:$app_password@$DATABASE_HOST:5432/$DATABASE_NAME?sslmode=$DATABASE_SSLMODE"
create coursegen-db-gateway "password=$gateway_password" \
    "url=postgresql://coursegen_gateway:$gateway_password@$DATABASE_HOST:5432/$DATABASE_NAME?sslmode=$DATABASE_SSLMODE"
create coursegen-gateway "secret-key=$(random_password)"

if [[ -n "${OPENAI_API_KEY:-}" ]]; then
    create coursegen-model "openai-api-key=$OPENAI_API_KEY"
fi
