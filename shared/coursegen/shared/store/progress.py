"""Job progress, written by the tracker: per event, a run's step and closing event, and the job's counters.

Each recorded event costs a constant amount of work, whatever the size of the
job: one statement that counts the run's (stage, module) step once, marks its
closing event, and moves the job's counters by the run's delta with the single
``UPDATE … RETURNING`` of the job row (see ``counters``). The job closes when its
counters say so, once: the close is a guarded status transition, and only then
are its runs read (failed employees, errors) and its agent runs summed
(``statistics``).
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection
from coursegen.shared.store.counters import (
    ENDED_JOBS,
    RUN_DELTAS,
    JobCounters,
    bump_job,
    counters_of,
    counters_returning,
    lock_runs,
    run_progress,
)
from coursegen.shared.store.jobs import JobStatus


class JobOutcome(BaseModel):
    """A job that has just ended: what ``job.completed`` says."""

    model_config = ConfigDict(frozen=True)

    job_id: uuid.UUID
    company_id: uuid.UUID
    status: JobStatus
    successful: int
    failed: int
    failed_employee_ids: list[uuid.UUID]
    epochs: int
    """The sum of the runs' epochs: a resumed job that ends again ends as a new event."""


# What any event of a job under way says about it: the phase it is in, and that it has started.
_EVENT_ASSIGNMENTS = f"""
    current_phase = CASE WHEN j.status IN {ENDED_JOBS} THEN j.current_phase ELSE coalesce($2, j.current_phase) END,
    status = CASE WHEN j.status = 'pending' THEN 'running' ELSE j.status END"""

_STEPS = "(SELECT count(*) FROM step)"

_RUN_EVENT = f"""
WITH old AS ({lock_runs("session_id = $1")}),
step AS (
    INSERT INTO course_run_steps (session_id, stage, module_index)
    SELECT old_session_id, $3::text, $4::int FROM old WHERE $3::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
),
changed AS (
    UPDATE course_runs r
       SET steps_done = r.steps_done + {_STEPS},
           closing_recorded = r.closing_recorded OR $5,
           last_progress_at = now(),
           progress_percentage = {run_progress("r.status", "r.modules_total", f"r.steps_done + {_STEPS}")}
      FROM old WHERE r.session_id = old.old_session_id
    RETURNING r.job_id, {RUN_DELTAS}
)
UPDATE course_generation_jobs j SET {bump_job("d")}, {_EVENT_ASSIGNMENTS}
  FROM changed d
 WHERE j.job_id = d.job_id
RETURNING {counters_returning("j")}"""


async def count_run_event(
    conn: Connection, session_id: str, *, step: tuple[str, int] | None, closing: bool, phase: str | None
) -> JobCounters | None:
    """A recorded event of a course run: the (stage, module) step it reached, counted once however
    often it is reached; whether it is the run's closing event; the job's counters moved by the run's
    delta. Returns the job's counters; None when there is no such run."""
    stage, module_index = step if step is not None else (None, None)
    row = await conn.fetchrow(_RUN_EVENT, session_id, phase, stage, module_index, closing)
    return counters_of(row) if row else None


async def count_job_event(conn: Connection, job_id: uuid.UUID) -> JobCounters | None:
    """A recorded event of a job that names no run of it; returns the job's counters."""
    row = await conn.fetchrow(
        f"""UPDATE course_generation_jobs j SET {_EVENT_ASSIGNMENTS}
             WHERE j.job_id = $1 RETURNING {counters_returning("j")}""",
        job_id,
        None,
    )
    return counters_of(row) if row else None


async def close_job(conn: Connection, job_id: uuid.UUID) -> JobOutcome | None:
    """Close a job whose counters say every run has ended; the outcome when this call closed it.

    Only the first caller closes it (a status transition from a status under way), so
    ``job.completed`` is said once per completion.
    """
    row = await conn.fetchrow(
        """
        WITH ended AS (
            SELECT coalesce(array_agg(employee_id ORDER BY employee_id) FILTER (WHERE status = 'failed'), '{}')
                       AS failed_ids,
                   string_agg(error_stage || ': ' || error_message, '; ' ORDER BY employee_id)
                       FILTER (WHERE status = 'failed') AS errors,
                   coalesce(sum(epoch), 0) AS epochs
              FROM course_runs WHERE job_id = $1
        ),
        usage AS (
            SELECT coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
                   count(*) AS agent_runs
              FROM agent_runs WHERE job_id = $1
        )
        UPDATE course_generation_jobs j
           SET status = CASE WHEN j.failed_courses > 0 THEN 'completed_with_errors' ELSE 'completed' END,
               progress_percentage = 100, current_phase = 'done', completed_at = now(),
               failed_employee_ids = ended.failed_ids, error_message = ended.errors,
               statistics = jsonb_build_object('input_tokens', usage.input_tokens,
                                               'output_tokens', usage.output_tokens,
                                               'agent_runs', usage.agent_runs, 'no_gaps', j.runs_no_gaps)
          FROM ended, usage
         WHERE j.job_id = $1 AND j.status IN ('pending', 'running')
           AND j.runs_total > 0 AND j.runs_closed = j.runs_total
        RETURNING j.job_id, j.company_id, j.status, j.successful_courses AS successful, j.failed_courses AS failed,
                  ended.failed_ids AS failed_employee_ids, ended.epochs
        """,
        job_id,
    )
    return JobOutcome.model_validate(dict(row)) if row else None
