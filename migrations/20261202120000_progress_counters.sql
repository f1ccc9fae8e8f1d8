-- migrate:up

-- Job progress as counters. Every change of a course run's status, closing
-- event or progress moves its job's counters by that run's delta, in the same
-- transaction (store/counters.py), so the tracker never recounts a job from
-- all its runs. The distinct (stage, module) steps a run has reached are kept
-- once each, which is what makes a redelivered or re-driven handoff count once.

CREATE TABLE course_run_steps (
    session_id   TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    stage        TEXT NOT NULL,
    module_index INTEGER NOT NULL,
    PRIMARY KEY (session_id, stage, module_index)
);

ALTER TABLE course_runs
    ADD COLUMN steps_done       INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN closing_recorded BOOLEAN NOT NULL DEFAULT false;
COMMENT ON COLUMN course_runs.steps_done IS 'Distinct (stage, module) steps reached: one row each in course_run_steps';
COMMENT ON COLUMN course_runs.closing_recorded IS
    'The run''s course.ready or course.skipped event is recorded (a finished run counts once it is)';

ALTER TABLE course_generation_jobs
    ADD COLUMN runs_total     INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN runs_ended     INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN runs_closed    INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN runs_no_gaps   INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN runs_cancelled INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN progress_sum   BIGINT NOT NULL DEFAULT 0;
COMMENT ON COLUMN course_generation_jobs.runs_closed IS
    'Runs that failed or were cancelled, and finished runs whose closing event is recorded: the job ends at runs_total';
COMMENT ON COLUMN course_generation_jobs.progress_sum IS 'Sum of its runs'' progress_percentage';

-- Backfill from what is recorded.
INSERT INTO course_run_steps (session_id, stage, module_index)
SELECT DISTINCT h.session_id, h.to_agent, h.module_index
  FROM cm_agent_handoffs h JOIN course_runs r ON r.session_id = h.session_id
 WHERE h.to_agent IN ('researcher', 'content', 'quality', 'enhancer', 'multimedia', 'finalizer')
   AND h.module_index IS NOT NULL;

UPDATE course_runs r
   SET steps_done = coalesce((SELECT count(*) FROM course_run_steps s WHERE s.session_id = r.session_id), 0),
       closing_recorded = EXISTS (
           SELECT 1 FROM cm_agent_handoffs h
            WHERE h.session_id = r.session_id
              AND h.subject IN ('coursegen.course.ready', 'coursegen.course.skipped'));

UPDATE course_runs
   SET progress_percentage = CASE
       WHEN status IN ('completed', 'no_gaps', 'failed', 'cancelled') THEN 100
       WHEN coalesce(modules_total, 0) = 0 THEN 5
       ELSE least(99, 10 + (85 * steps_done) / (6 * modules_total))
   END;

UPDATE course_generation_jobs j
   SET runs_total = c.total, runs_ended = c.ended, runs_closed = c.closed, runs_no_gaps = c.no_gaps,
       runs_cancelled = c.cancelled, successful_courses = c.completed, failed_courses = c.failed,
       progress_sum = c.progress
  FROM (
      SELECT job_id,
             count(*) AS total,
             count(*) FILTER (WHERE status IN ('completed', 'no_gaps', 'failed', 'cancelled')) AS ended,
             count(*) FILTER (WHERE status IN ('failed', 'cancelled')
                                 OR (status IN ('completed', 'no_gaps') AND closing_recorded)) AS closed,
             count(*) FILTER (WHERE status = 'no_gaps') AS no_gaps,
             count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
             count(*) FILTER (WHERE status = 'completed') AS completed,
             count(*) FILTER (WHERE status = 'failed') AS failed,
             coalesce(sum(progress_percentage), 0) AS progress
        FROM course_runs GROUP BY job_id
  ) c
 WHERE j.job_id = c.job_id;

-- migrate:down
ALTER TABLE course_generation_jobs
    DROP COLUMN IF EXISTS runs_total,
    DROP COLUMN IF EXISTS runs_ended,
    DROP COLUMN IF EXISTS runs_closed,
    DROP COLUMN IF EXISTS runs_no_gaps,
    DROP COLUMN IF EXISTS runs_cancelled,
    DROP COLUMN IF EXISTS progress_sum;
ALTER TABLE course_runs
    DROP COLUMN IF EXISTS steps_done,
    DROP COLUMN IF EXISTS closing_recorded;
DROP TABLE IF EXISTS course_run_steps;
