-- migrate:up

-- People in the loop: outline approval, review rounds, versioned publishing,
-- claim checks, learner progress and an append-only audit trail.

-- A course run may wait for a person to approve its outline: a state in the
-- database, never a held process.
ALTER TABLE course_runs DROP CONSTRAINT IF EXISTS course_runs_status_check;
ALTER TABLE course_runs ADD CONSTRAINT course_runs_status_check CHECK (status IN
    ('pending', 'running', 'awaiting_outline_review', 'completed', 'no_gaps', 'failed', 'cancelled'));

CREATE OR REPLACE FUNCTION course_runs_status_transition() RETURNS TRIGGER AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status IN ('pending', 'running')
            AND NEW.status IN ('running', 'awaiting_outline_review', 'completed', 'no_gaps', 'failed', 'cancelled'))
        OR (OLD.status = 'awaiting_outline_review' AND NEW.status IN ('running', 'failed', 'cancelled'))
        OR (OLD.status = 'failed' AND NEW.status = 'running')
    ) THEN
        RAISE EXCEPTION 'course run % cannot go from % to %', OLD.session_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- The plan stays one row per run (the seed's readers), holding the current revision;
-- every revision's outline and every decision on it are kept in review_requests and review_audit.
ALTER TABLE cm_course_plans ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cm_course_plans ADD COLUMN approved_at TIMESTAMPTZ;
ALTER TABLE cm_course_plans ADD COLUMN approved_by TEXT;

-- Enrichments belong to the content revision they enrich: a module reworked after review
-- gets new ones, and every other module's stored ones are reused (0 tokens).
ALTER TABLE module_enhancements ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE module_multimedia ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
UPDATE module_enhancements e SET revision = q.revision
  FROM (SELECT session_id, module_index, max(revision) AS revision FROM quality_reports
         WHERE decision <> 'revise' GROUP BY session_id, module_index) q
 WHERE q.session_id = e.session_id AND q.module_index = e.module_index;
UPDATE module_multimedia m SET revision = q.revision
  FROM (SELECT session_id, module_index, max(revision) AS revision FROM quality_reports
         WHERE decision <> 'revise' GROUP BY session_id, module_index) q
 WHERE q.session_id = m.session_id AND q.module_index = m.module_index;
ALTER TABLE module_enhancements DROP CONSTRAINT module_enhancements_session_id_module_index_key;
ALTER TABLE module_enhancements ADD CONSTRAINT module_enhancements_unit_key UNIQUE (session_id, module_index, revision);
ALTER TABLE module_multimedia DROP CONSTRAINT module_multimedia_session_id_module_index_key;
ALTER TABLE module_multimedia ADD CONSTRAINT module_multimedia_unit_key UNIQUE (session_id, module_index, revision);

-- A person's request that sends work back through the pipeline: a rejected outline
-- (re-plan) or a module's change request. Each opens a round of the run; the comment
-- is the stored input the agent reads.
CREATE TABLE review_requests (
    session_id       TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    round            INTEGER NOT NULL CHECK (round > 0),
    company_id       UUID NOT NULL REFERENCES companies(id),
    kind             TEXT NOT NULL CHECK (kind IN ('replan', 'change_request')),
    module_index     INTEGER,
    revision         INTEGER,
    comment          TEXT NOT NULL,
    reviewer         TEXT NOT NULL,
    command_event_id UUID NOT NULL UNIQUE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, round),
    CHECK ((kind = 'change_request') = (module_index IS NOT NULL))
);
CREATE INDEX idx_review_requests_company ON review_requests(company_id);

-- A course: what a learner follows, through its versions (one per employee of a company;
-- regenerating it adds a draft version, never replaces the published one).
CREATE TABLE courses (
    course_id   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id  UUID NOT NULL REFERENCES companies(id),
    employee_id UUID NOT NULL REFERENCES employees(id),
    title       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (company_id, employee_id)
);

CREATE TABLE course_versions (
    version_id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    course_id           UUID NOT NULL REFERENCES courses(course_id) ON DELETE CASCADE,
    company_id          UUID NOT NULL REFERENCES companies(id),
    version             INTEGER NOT NULL CHECK (version > 0),
    session_id          TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    round               INTEGER,
    origin              TEXT NOT NULL CHECK (origin IN ('generated', 'change_request', 'direct_edit')),
    status              TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'archived')),
    title               TEXT NOT NULL,
    course              JSONB NOT NULL,
    markdown            TEXT NOT NULL,
    module_fingerprints JSONB NOT NULL,
    based_on            INTEGER,
    created_by          TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_by        TEXT,
    published_at        TIMESTAMPTZ,
    override_reason     TEXT,
    UNIQUE (course_id, version),
    UNIQUE (session_id, round)
);
CREATE UNIQUE INDEX uq_course_versions_published ON course_versions(course_id) WHERE status = 'published';

CREATE FUNCTION course_versions_status_transition() RETURNS TRIGGER AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'draft' AND NEW.status IN ('published', 'archived'))
        OR (OLD.status = 'published' AND NEW.status = 'archived')
    ) THEN
        RAISE EXCEPTION 'course version % cannot go from % to %', OLD.version_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER course_versions_status_transition BEFORE UPDATE OF status ON course_versions
    FOR EACH ROW EXECUTE FUNCTION course_versions_status_transition();

-- Cited sentences whose cited passage does not (or barely) support them.
CREATE TABLE claim_flags (
    flag_id      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    version_id   UUID NOT NULL REFERENCES course_versions(version_id) ON DELETE CASCADE,
    company_id   UUID NOT NULL REFERENCES companies(id),
    module_index INTEGER NOT NULL,
    section      TEXT NOT NULL,
    sentence     TEXT NOT NULL,
    ref          INTEGER NOT NULL,
    support      DOUBLE PRECISION NOT NULL,
    verdict      TEXT NOT NULL CHECK (verdict IN ('unsupported', 'weak')),
    method       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_claim_flags_version ON claim_flags(version_id);

-- A learner's progress per module of a course, carried across versions by the
-- fingerprint of the module's objectives.
CREATE TABLE learner_progress (
    company_id   UUID NOT NULL REFERENCES companies(id),
    employee_id  UUID NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    course_id    UUID NOT NULL REFERENCES courses(course_id) ON DELETE CASCADE,
    module_index INTEGER NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('in_progress', 'completed', 'updated')),
    version      INTEGER NOT NULL,
    completed_at TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (employee_id, course_id, module_index)
);

CREATE TABLE quiz_attempts (
    attempt_id   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id   UUID NOT NULL REFERENCES companies(id),
    employee_id  UUID NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    course_id    UUID NOT NULL REFERENCES courses(course_id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    module_index INTEGER NOT NULL,
    answers      JSONB NOT NULL,
    correct      INTEGER NOT NULL,
    total        INTEGER NOT NULL,
    score        DOUBLE PRECISION NOT NULL,
    at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_quiz_attempts_learner ON quiz_attempts(employee_id, course_id);

-- Who approved, edited, rejected, published and overrode what, and when. Append-only.
CREATE TABLE review_audit (
    audit_id   BIGSERIAL PRIMARY KEY,
    company_id UUID NOT NULL REFERENCES companies(id),
    course_id  UUID,
    session_id TEXT,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    details    JSONB NOT NULL DEFAULT '{}'::jsonb,
    at         TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX idx_review_audit_course ON review_audit(company_id, course_id);
CREATE INDEX idx_review_audit_session ON review_audit(company_id, session_id);

CREATE FUNCTION review_audit_append_only() RETURNS TRIGGER AS $$
BEGIN
    RAISE EXCEPTION 'review_audit is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER review_audit_append_only BEFORE UPDATE OR DELETE ON review_audit
    FOR EACH ROW EXECUTE FUNCTION review_audit_append_only();
CREATE TRIGGER review_audit_no_truncate BEFORE TRUNCATE ON review_audit
    FOR EACH STATEMENT EXECUTE FUNCTION review_audit_append_only();

-- migrate:down
DROP TRIGGER IF EXISTS review_audit_no_truncate ON review_audit;
DROP TRIGGER IF EXISTS review_audit_append_only ON review_audit;
DROP FUNCTION IF EXISTS review_audit_append_only();
DROP TABLE IF EXISTS review_audit, quiz_attempts, learner_progress, claim_flags;
DROP TRIGGER IF EXISTS course_versions_status_transition ON course_versions;
DROP FUNCTION IF EXISTS course_versions_status_transition();
DROP TABLE IF EXISTS course_versions, courses, review_requests;
ALTER TABLE module_multimedia DROP CONSTRAINT module_multimedia_unit_key;
DELETE FROM module_multimedia a USING module_multimedia b
 WHERE a.session_id = b.session_id AND a.module_index = b.module_index AND a.revision < b.revision;
ALTER TABLE module_multimedia ADD CONSTRAINT module_multimedia_session_id_module_index_key UNIQUE (session_id, module_index);
ALTER TABLE module_multimedia DROP COLUMN revision;
ALTER TABLE module_enhancements DROP CONSTRAINT module_enhancements_unit_key;
DELETE FROM module_enhancements a USING module_enhancements b
 WHERE a.session_id = b.session_id AND a.module_index = b.module_index AND a.revision < b.revision;
ALTER TABLE module_enhancements ADD CONSTRAINT module_enhancements_session_id_module_index_key UNIQUE (session_id, module_index);
ALTER TABLE module_enhancements DROP COLUMN revision;
ALTER TABLE cm_course_plans DROP COLUMN approved_by, DROP COLUMN approved_at, DROP COLUMN revision;
UPDATE course_runs SET status = 'running' WHERE status = 'awaiting_outline_review';
CREATE OR REPLACE FUNCTION course_runs_status_transition() RETURNS TRIGGER AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status IN ('pending', 'running')
            AND NEW.status IN ('running', 'completed', 'no_gaps', 'failed', 'cancelled'))
        OR (OLD.status = 'failed' AND NEW.status = 'running')
    ) THEN
        RAISE EXCEPTION 'course run % cannot go from % to %', OLD.session_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
ALTER TABLE course_runs DROP CONSTRAINT course_runs_status_check;
ALTER TABLE course_runs ADD CONSTRAINT course_runs_status_check CHECK (status IN
    ('pending', 'running', 'completed', 'no_gaps', 'failed', 'cancelled'));
