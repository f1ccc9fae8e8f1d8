"""A job's counters of its course runs, moved by each run's delta.

A job's progress and completion are counters on ``course_generation_jobs``
(``runs_ended``, ``runs_closed``, ``successful_courses``, ``failed_courses``,
``runs_no_gaps``, ``runs_cancelled``, ``progress_sum``), never a recount of all
its runs. A course run contributes to them through three of its columns: its
status, whether its closing event (``course.ready`` / ``course.skipped``) is
recorded, and its progress. A statement that changes any of the three reads the
row's old values under the row's lock and yields the difference, the run's
delta, and the job's counters move by exactly that delta in the same
transaction. Deltas add up to the same totals in any order, and a change that
changes nothing (a redelivery, a refused transition, a step reached twice)
moves nothing: the counters stay equal to a count from scratch.

Locks are always taken run rows first (in ``session_id`` order), then the job
row, by every writer: a transition of one run, the tracker, cancel and resume.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from coursegen.shared.store._pool import Connection
from coursegen.shared.store.jobs import ENDED_JOB_STATUSES, JobStatus
from coursegen.shared.subjects import MODULE_STAGES

ENDED_RUNS = "('completed', 'no_gaps', 'failed', 'cancelled')"
ENDED_JOBS = "(" + ", ".join(f"'{s}'" for s in sorted(ENDED_JOB_STATUSES)) + ")"
NEW_RUN_PROGRESS = 5
"""A run's progress before it is planned."""


def run_progress(status: str, modules: str, steps: str) -> str:
    """A run's progress: 5% until planned, 10% planned, an equal share per (stage, module) step, 100% ended."""
    return f"""CASE WHEN {status} IN {ENDED_RUNS} THEN 100
        WHEN coalesce({modules}, 0) = 0 THEN {NEW_RUN_PROGRESS}
        ELSE least(99, 10 + (85 * ({steps})) / ({len(MODULE_STAGES)} * ({modules}))) END"""


def job_progress(progress_sum: str, runs_total: str) -> str:
    """A job's progress while under way: its runs' mean, at most 99% until it ends."""
    return f"least(99, coalesce(round(({progress_sum})::numeric / nullif({runs_total}, 0)), 0))::int"


def _contributions(status: str, closed: str, progress: str) -> dict[str, str]:
    """What one run adds to each of its job's counters."""
    return {
        "ended": f"({status} IN {ENDED_RUNS})::int",
        "completed": f"({status} = 'completed')::int",
        "failed": f"({status} = 'failed')::int",
        "no_gaps": f"({status} = 'no_gaps')::int",
        "cancelled": f"({status} = 'cancelled')::int",
        # A finished run counts once its closing event is recorded: that event is published after
        # all of the run's handoffs, so the audit trail is whole when the job closes.
        "closed": f"({status} IN ('failed', 'cancelled') OR ({status} IN ('completed', 'no_gaps') AND {closed}))::int",
        "progress": progress,
    }


COUNTER_COLUMNS = {
    "ended": "runs_ended",
    "completed": "successful_courses",
    "failed": "failed_courses",
    "no_gaps": "runs_no_gaps",
    "cancelled": "runs_cancelled",
    "closed": "runs_closed",
    "progress": "progress_sum",
}


def lock_runs(where: str) -> str:
    """The runs a statement changes, locked in ``session_id`` order, with their old contributions."""
    return f"""SELECT session_id AS old_session_id, status AS old_status, closing_recorded AS old_closed,
               progress_percentage AS old_progress
          FROM course_runs WHERE {where} ORDER BY session_id FOR UPDATE"""


# The RETURNING list of an ``UPDATE course_runs r … FROM old``: each counter's delta (new minus old).
_NEW = _contributions("r.status", "r.closing_recorded", "r.progress_percentage")
_OLD = _contributions("old.old_status", "old.old_closed", "old.old_progress")
RUN_DELTAS = ", ".join(f"{_NEW[k]} - {_OLD[k]} AS d_{k}" for k in COUNTER_COLUMNS)


def bump_job(delta: str) -> str:
    """The SET list that moves a job's (``j``) counters by the summed deltas in ``delta``."""
    moves = ", ".join(f"{column} = j.{column} + {delta}.d_{k}" for k, column in COUNTER_COLUMNS.items())
    progress = job_progress(f"j.progress_sum + {delta}.d_progress", "j.runs_total")
    return f"""{moves},
        progress_percentage = CASE WHEN j.status IN {ENDED_JOBS} THEN j.progress_percentage ELSE {progress} END"""


def summed_deltas(source: str) -> str:
    sums = ", ".join(f"sum(d_{k}) AS d_{k}" for k in COUNTER_COLUMNS)
    return f"SELECT job_id, {sums} FROM {source} GROUP BY job_id"


def counted_update(*, where: str, assignments: str, returning: str) -> str:
    """An ``UPDATE course_runs`` that moves the runs' jobs' counters by the runs' deltas, in one statement.

    ``where`` picks the runs (its columns unqualified), ``assignments`` is the SET list
    (its expressions see the run's current columns), ``returning`` what to return of each
    changed run (columns of ``changed``, which holds ``r.*``). A job is only written when
    a delta is not zero.
    """
    nonzero = " OR ".join(f"d.d_{k} <> 0" for k in COUNTER_COLUMNS)
    return f"""
    WITH old AS ({lock_runs(where)}),
    changed AS (
        UPDATE course_runs r SET {assignments}
          FROM old WHERE r.session_id = old.old_session_id
        RETURNING r.*, {RUN_DELTAS}
    ),
    bumped AS (
        UPDATE course_generation_jobs j SET {bump_job("d")}
          FROM ({summed_deltas("changed")}) d
         WHERE j.job_id = d.job_id AND ({nonzero})
    )
    SELECT {returning} FROM changed"""


@dataclass(frozen=True)
class JobCounters:
    """A job's counters, as the tracker reads them after an event."""

    job_id: uuid.UUID
    company_id: uuid.UUID
    status: JobStatus
    runs_total: int
    runs_ended: int
    runs_closed: int
    successful: int
    failed: int
    no_gaps: int
    cancelled: int
    progress_sum: int
    progress_percentage: int

    @property
    def finished(self) -> bool:
        """Every run has ended, and every finished run's closing event is recorded."""
        return self.runs_total > 0 and self.runs_closed == self.runs_total


def counters_returning(job: str) -> str:
    """The select list of a job's (``job`` is its alias) counters, for ``counters_of``."""
    return f"""{job}.job_id, {job}.company_id, {job}.status, {job}.runs_total, {job}.runs_ended, {job}.runs_closed,
        {job}.successful_courses AS successful, {job}.failed_courses AS failed, {job}.runs_no_gaps AS no_gaps,
        {job}.runs_cancelled AS cancelled, {job}.progress_sum, {job}.progress_percentage"""


def counters_of(row: Any) -> JobCounters:
    values = dict(row)
    values["status"] = JobStatus(values["status"])
    return JobCounters(**values)


async def job_counters(conn: Connection, job_id: uuid.UUID) -> JobCounters | None:
    row = await conn.fetchrow(
        f"SELECT {counters_returning('j')} FROM course_generation_jobs j WHERE j.job_id = $1", job_id
    )
    return counters_of(row) if row else None
