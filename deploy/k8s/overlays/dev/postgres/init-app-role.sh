#!/bin/sh
# Runs once, when PostgreSQL initialises an empty data directory (docker-entrypoint-initdb.d).
# The migrations run as the owner (POSTGRES_USER); the pipeline's services sign in as coursegen_app,
# which may read and write rows of the owner's tables but never change the schema; the gateway (when
# COURSEGEN_GATEWAY_PASSWORD is set) as coursegen_gateway, which row-level security also holds to
# one company per transaction (the migrations grant it its rows and write its policies).
set -eu
: "${COURSEGEN_APP_PASSWORD:?COURSEGEN_APP_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 -v app_password="$COURSEGEN_APP_PASSWORD" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE coursegen_app LOGIN PASSWORD :'app_password';
GRANT CONNECT ON DATABASE coursegen TO coursegen_app;
GRANT USAGE ON SCHEMA public TO coursegen_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO coursegen_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO coursegen_app;
SQL
if [ -n "${COURSEGEN_GATEWAY_PASSWORD:-}" ]; then
    psql -v ON_ERROR_STOP=1 -v gateway_password="$COURSEGEN_GATEWAY_PASSWORD" \
        --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE coursegen_gateway LOGIN PASSWORD :'gateway_password';
GRANT CONNECT ON DATABASE coursegen TO coursegen_gateway;
GRANT USAGE ON SCHEMA public TO coursegen_gateway;
SQL
fi
