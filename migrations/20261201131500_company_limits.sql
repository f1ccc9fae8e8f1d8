-- migrate:up

-- Requests a company made of the coordinator, for its per-minute limits: one row per
-- accepted job request or resume. Old rows are only history; the limits read the last minute.
CREATE TABLE company_requests (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id   UUID NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('job', 'resume')),
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_company_requests_recent ON company_requests(company_id, kind, requested_at DESC);

-- migrate:down
DROP TABLE IF EXISTS company_requests;
