-- migrate:up

-- A learner's personal link: an employee opens it and sees their published
-- courses, progress and quiz attempts; no password. A reviewer creates it
-- (it is shown once); it is stored as a SHA-256 digest, expires, and can be
-- revoked. Each belongs to one company and one employee.
CREATE TABLE learner_links (
    token_hash  TEXT PRIMARY KEY,
    company_id  UUID NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    employee_id UUID NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX idx_learner_links_employee ON learner_links (company_id, employee_id);

-- migrate:down
DROP TABLE IF EXISTS learner_links;
