-- migrate:up

-- The gateway's people: users who sign in to the web app, their browser
-- sessions, and API keys for other systems. Each belongs to one company.
-- Session tokens and API keys are stored as SHA-256 digests (they are random
-- and long, so a slow hash adds nothing); passwords as argon2 hashes.

CREATE TABLE users (
    user_id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id    UUID NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX uq_users_email ON users (lower(email));
CREATE INDEX idx_users_company ON users (company_id);

CREATE TABLE user_sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    company_id  UUID NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_user_sessions_user ON user_sessions (user_id);

CREATE TABLE api_keys (
    key_id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id   UUID NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX idx_api_keys_company ON api_keys (company_id);

-- Jobs requested through the gateway, known from the moment the request is published (before the
-- coordinator has created the job, or when it refused it).
CREATE TABLE gateway_job_requests (
    job_id        UUID PRIMARY KEY,
    company_id    UUID NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    event_id      UUID NOT NULL UNIQUE,
    requested_by  UUID REFERENCES users(user_id) ON DELETE SET NULL,
    employees     INTEGER NOT NULL,
    token_budget  BIGINT,
    requested_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_gateway_job_requests_company ON gateway_job_requests (company_id);

-- The id an HR system knows an employee by: the key of the bulk upsert.
ALTER TABLE employees ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX uq_employees_external_id ON employees (company_id, external_id) WHERE external_id IS NOT NULL;

-- Documents uploaded through the web app may also be PDF or Word.
ALTER TABLE kb_documents DROP CONSTRAINT kb_documents_format_check;
ALTER TABLE kb_documents ADD CONSTRAINT kb_documents_format_check
    CHECK (format IN ('markdown', 'text', 'html', 'pdf', 'docx'));

-- migrate:down
ALTER TABLE kb_documents DROP CONSTRAINT kb_documents_format_check;
ALTER TABLE kb_documents ADD CONSTRAINT kb_documents_format_check CHECK (format IN ('markdown', 'text', 'html'));
DROP INDEX IF EXISTS uq_employees_external_id;
ALTER TABLE employees DROP COLUMN IF EXISTS external_id;
DROP TABLE IF EXISTS gateway_job_requests, api_keys, user_sessions, users;
