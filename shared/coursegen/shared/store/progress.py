"""Job progress, written by the tracker: per event, a run's step and closing event, and the job's counters.

Each recorded event costs a constant amount of work, whatever the size of the
job: one statement that counts the run's (stage, module) step once, marks its
closing event, and moves the job's counters by the run's delta with the single
``UPDATE … RETURNING`` of the job row (see ``counters``). The job closes when its
counters say so, once: the close is a guarded status transition of
``jobs.close_job``, and only then are its runs read (failed employees, errors)
and its agent runs summed (``statistics``).
"""

from __future__ import annotations

import uuid

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
from coursegen.shared.store.jobs import started_by_event

# What any event of a job under way says about it: the phase it is in, and that it has started.
_EVENT_ASSIGNMENTS = f"""
    current_phase = CASE WHEN j.status IN {ENDED_JOBS} THEN j.current_phase ELSE coalesce($2, j.current_phase) END,
    {started_by_event("j")}"""

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
