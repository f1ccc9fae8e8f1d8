-- migrate:up

-- Each status column has one owner in the store (a StrEnum and one function per
-- transition). The database holds the same rules: the values as CHECKs, and the
-- transitions as triggers, so no writer can reopen a finished run or job.

UPDATE cm_module_content SET status = 'quality_check' WHERE status IS NULL OR status = 'draft';
ALTER TABLE cm_module_content ALTER COLUMN status SET DEFAULT 'quality_check';
ALTER TABLE cm_module_content ALTER COLUMN status SET NOT NULL;
ALTER TABLE cm_module_content ADD CONSTRAINT cm_module_content_status_check
    CHECK (status IN ('quality_check', 'revision', 'approved'));

CREATE FUNCTION course_runs_status_transition() RETURNS TRIGGER AS $$
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

CREATE TRIGGER course_runs_status_transition BEFORE UPDATE OF status ON course_runs
    FOR EACH ROW EXECUTE FUNCTION course_runs_status_transition();

CREATE FUNCTION course_generation_jobs_status_transition() RETURNS TRIGGER AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status IN ('pending', 'running')
            AND NEW.status IN ('running', 'completed', 'completed_with_errors', 'failed', 'cancelled'))
        OR (OLD.status IN ('completed', 'completed_with_errors', 'failed') AND NEW.status = 'running')
    ) THEN
        RAISE EXCEPTION 'job % cannot go from % to %', OLD.job_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER course_generation_jobs_status_transition BEFORE UPDATE OF status ON course_generation_jobs
    FOR EACH ROW EXECUTE FUNCTION course_generation_jobs_status_transition();

-- Token counts and budgets are bigint: a budget over 2^31-1 is a valid budget.
ALTER TABLE agent_runs
    ALTER COLUMN input_tokens TYPE BIGINT,
    ALTER COLUMN output_tokens TYPE BIGINT,
    ALTER COLUMN input_text_tokens TYPE BIGINT,
    ALTER COLUMN transcript_tokens TYPE BIGINT;
ALTER TABLE cm_agent_handoffs ALTER COLUMN token_count TYPE BIGINT;

-- migrate:down
ALTER TABLE cm_agent_handoffs ALTER COLUMN token_count TYPE INTEGER;
ALTER TABLE agent_runs
    ALTER COLUMN input_tokens TYPE INTEGER,
    ALTER COLUMN output_tokens TYPE INTEGER,
    ALTER COLUMN input_text_tokens TYPE INTEGER,
    ALTER COLUMN transcript_tokens TYPE INTEGER;
DROP TRIGGER IF EXISTS course_generation_jobs_status_transition ON course_generation_jobs;
DROP FUNCTION IF EXISTS course_generation_jobs_status_transition();
DROP TRIGGER IF EXISTS course_runs_status_transition ON course_runs;
DROP FUNCTION IF EXISTS course_runs_status_transition();
ALTER TABLE cm_module_content DROP CONSTRAINT IF EXISTS cm_module_content_status_check;
ALTER TABLE cm_module_content ALTER COLUMN status DROP NOT NULL;
ALTER TABLE cm_module_content ALTER COLUMN status SET DEFAULT 'draft';
