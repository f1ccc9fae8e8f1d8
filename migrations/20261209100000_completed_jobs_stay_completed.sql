-- migrate:up

-- A job that completed has nothing left to resume: only one that ended with
-- failed runs (completed_with_errors, failed) may run again. The trigger
-- mirrors JOB_TRANSITIONS in coursegen.shared.store.jobs.
CREATE OR REPLACE FUNCTION course_generation_jobs_status_transition() RETURNS TRIGGER AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status IN ('pending', 'running')
            AND NEW.status IN ('running', 'completed', 'completed_with_errors', 'failed', 'cancelled'))
        OR (OLD.status IN ('completed_with_errors', 'failed') AND NEW.status = 'running')
    ) THEN
        RAISE EXCEPTION 'job % cannot go from % to %', OLD.job_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- migrate:down
CREATE OR REPLACE FUNCTION course_generation_jobs_status_transition() RETURNS TRIGGER AS $$
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
