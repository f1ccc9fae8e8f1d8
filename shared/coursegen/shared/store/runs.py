"""Course runs (``course_runs``): one employee in one job, keyed by ``session_id``.

This module is the one owner of ``course_runs.status``. Each allowed transition
is one function; a transition the table below does not allow is refused with
``TransitionRefused`` and never written. A migration mirrors the table in a
trigger, so no other writer can get past it either.

Owning the status, the transitions also own what it counts for: each one moves
the job's counters by the run's delta in the same statement (``counters``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from coursegen.shared.errors import TransitionRefused
from coursegen.shared.store._pool import Connection
from coursegen.shared.store.counters import NEW_RUN_PROGRESS, counted_update, run_progress


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    AWAITING_OUTLINE_REVIEW = "awaiting_outline_review"
    """Planned; waiting for a person to approve or reject the outline (no process holds it)."""
    COMPLETED = "completed"
    NO_GAPS = "no_gaps"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        """The run will do no more work unless a resume reopens it (only a failed one can be)."""
        return self in ENDED_RUN_STATUSES


ENDED_RUN_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.NO_GAPS, RunStatus.FAILED, RunStatus.CANCELLED})
FINAL_RUN_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.NO_GAPS, RunStatus.CANCELLED})
"""Never left again: not even a resume reopens these."""
ACTIVE_RUN_STATUSES = frozenset({RunStatus.PENDING, RunStatus.RUNNING})
"""Under way: a stage is (or should be) at work on them. A waiting run is neither active nor ended."""

RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset({RunStatus.RUNNING, RunStatus.AWAITING_OUTLINE_REVIEW, *ENDED_RUN_STATUSES}),
    RunStatus.RUNNING: frozenset({RunStatus.RUNNING, RunStatus.AWAITING_OUTLINE_REVIEW, *ENDED_RUN_STATUSES}),
    # A person's answer: approved or rejected (re-planned), both run on; or the job was cancelled.
    RunStatus.AWAITING_OUTLINE_REVIEW: frozenset({RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELLED}),
    RunStatus.FAILED: frozenset({RunStatus.RUNNING}),  # resume
    RunStatus.COMPLETED: frozenset(),
    RunStatus.NO_GAPS: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}
"""Which status a run may move to from each status (mirrored by the ``course_runs`` trigger)."""


def _sources(to: RunStatus) -> list[str]:
    return [str(s) for s, targets in RUN_TRANSITIONS.items() if to in targets]


class CourseRun(BaseModel):
    """The stored record of a course run: where a stage takes company, employee and job from."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    job_id: uuid.UUID
    company_id: uuid.UUID
    employee_id: uuid.UUID
    status: RunStatus
    epoch: int
    current_stage: str | None
    modules_total: int | None
    modules_done: int
    error_stage: str | None = None
    error_message: str | None = None
    last_progress_at: datetime | None = None


_RUN_COLUMNS = """session_id, job_id, company_id, employee_id, status, epoch, current_stage, modules_total,
    modules_done, error_stage, error_message, last_progress_at"""


async def get_run(conn: Connection, session_id: str, *, for_update: bool = False) -> CourseRun | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_RUN_COLUMNS} FROM course_runs WHERE session_id = $1{lock}", session_id)
    return CourseRun.model_validate(dict(row)) if row else None


async def create_runs(
    conn: Connection, job_id: uuid.UUID, company_id: uuid.UUID, runs: list[tuple[str, uuid.UUID]]
) -> None:
    """One pending run per (session_id, employee_id) of a new job, counted in the job's totals."""
    await conn.executemany(
        """
        INSERT INTO course_runs (session_id, job_id, company_id, employee_id, status, current_stage,
                                 progress_percentage)
        VALUES ($1, $2, $3, $4, 'pending', 'planner', $5)
        """,
        [(session_id, job_id, company_id, employee_id, NEW_RUN_PROGRESS) for session_id, employee_id in runs],
    )
    await conn.execute(
        "UPDATE course_generation_jobs SET runs_total = runs_total + $2, progress_sum = progress_sum + $3"
        " WHERE job_id = $1",
        job_id,
        len(runs),
        NEW_RUN_PROGRESS * len(runs),
    )


async def _refused(conn: Connection, session_id: str, to: RunStatus) -> TransitionRefused:
    current = await conn.fetchval("SELECT status FROM course_runs WHERE session_id = $1", session_id)
    if current is None:
        return TransitionRefused(f"course run {session_id} does not exist")
    return TransitionRefused(f"course run {session_id} is {current}; it cannot become {to}")


async def start_stage(conn: Connection, session_id: str, stage: str, *, review_round: int = 0) -> bool:
    """A stage starts work on the run: pending → running. False when the run has ended meanwhile.

    A waiting run is not started by a stray message: only a person's answer moves it on.
    In a review round (a change request on an assembled course) the completed run is
    worked on as it is: it stays completed, and its job stays closed.
    """
    if review_round > 0:
        status = await conn.fetchval("SELECT status FROM course_runs WHERE session_id = $1", session_id)
        if status == RunStatus.COMPLETED:
            return True
    result: str = await conn.execute(
        """
        UPDATE course_runs SET status = 'running', current_stage = $2, last_progress_at = now()
         WHERE session_id = $1 AND status = ANY($3::text[])
        """,
        session_id,
        stage,
        [str(s) for s in ACTIVE_RUN_STATUSES],
    )
    return result.endswith(" 1")


async def await_outline_review(conn: Connection, session_id: str) -> None:
    """The plan is stored and the run waits for a person: running → awaiting_outline_review."""
    result: str = await conn.execute(
        """
        UPDATE course_runs SET status = 'awaiting_outline_review', current_stage = 'planner',
               last_progress_at = now()
         WHERE session_id = $1 AND status = ANY($2::text[])
        """,
        session_id,
        _sources(RunStatus.AWAITING_OUTLINE_REVIEW),
    )
    if not result.endswith(" 1"):
        current = await conn.fetchval("SELECT status FROM course_runs WHERE session_id = $1", session_id)
        if current != RunStatus.AWAITING_OUTLINE_REVIEW:
            raise await _refused(conn, session_id, RunStatus.AWAITING_OUTLINE_REVIEW)


async def answer_outline_review(conn: Connection, session_id: str, *, stage: str, modules: int | None) -> None:
    """A person answered: awaiting_outline_review → running, at ``stage`` (the researcher, or the planner again)."""
    result: str = await conn.execute(
        """
        UPDATE course_runs SET status = 'running', current_stage = $2, modules_total = coalesce($3, modules_total),
               last_progress_at = now()
         WHERE session_id = $1 AND status = 'awaiting_outline_review'
        """,
        session_id,
        stage,
        modules,
    )
    if not result.endswith(" 1"):
        raise await _refused(conn, session_id, RunStatus.RUNNING)


async def plan_modules(conn: Connection, session_id: str, modules: int) -> None:
    """The planner decided how many modules the course has; none means the run ends with no gaps."""
    if modules == 0:
        await _end(conn, session_id, RunStatus.NO_GAPS, "modules_total = 0, current_stage = 'planner'")
        return
    await conn.fetch(
        counted_update(
            where="session_id = $1",
            assignments=f"modules_total = $2, progress_percentage = {run_progress('status', '$2::int', 'steps_done')}",
            returning="session_id",
        ),
        session_id,
        modules,
    )


async def complete_run(conn: Connection, session_id: str, modules: int) -> None:
    """The finalizer assembled the course."""
    await _end(
        conn,
        session_id,
        RunStatus.COMPLETED,
        "modules_done = $2, current_stage = 'finalizer'",
        modules,
        idempotent=True,
    )


async def _end(
    conn: Connection, session_id: str, to: RunStatus, assignments: str, *args: object, idempotent: bool = True
) -> None:
    n = len(args) + 3
    changed = await conn.fetch(
        counted_update(
            where=f"session_id = $1 AND status = ANY(${n}::text[])",
            assignments=f"""status = ${n - 1}, completed_at = now(), last_progress_at = now(),
                progress_percentage = 100, {assignments}""",
            returning="session_id",
        ),
        session_id,
        *args,
        str(to),
        _sources(to),
    )
    if changed:
        return
    current = await conn.fetchval("SELECT status FROM course_runs WHERE session_id = $1", session_id)
    if idempotent and current == to:
        return
    raise await _refused(conn, session_id, to)


async def fail_run(
    conn: Connection, session_id: str, *, epoch: int, stage: str, kind: str, message: str, attempts: int
) -> bool:
    """Fail a run with its error. False when it has ended already, or the failure is of an older epoch.

    A failure belongs to the epoch of the message that failed: one from before a resume
    must never fail the run that the resume reopened.
    """
    changed = await conn.fetch(
        counted_update(
            where="session_id = $1 AND status = ANY($7::text[]) AND epoch <= $6",
            assignments="""status = 'failed', error_stage = $2, error_kind = $3, error_message = $4,
                error_attempts = $5, completed_at = now(), last_progress_at = now(), progress_percentage = 100""",
            returning="session_id",
        ),
        session_id,
        stage,
        kind,
        message[:4000],
        attempts,
        epoch,
        _sources(RunStatus.FAILED),
    )
    return bool(changed)


async def cancel_runs(conn: Connection, job_id: uuid.UUID) -> int:
    """Every run of the job that has not ended is cancelled."""
    changed = await conn.fetch(
        counted_update(
            where="job_id = $1 AND status = ANY($2::text[])",
            assignments="status = 'cancelled', completed_at = now(), progress_percentage = 100",
            returning="session_id",
        ),
        job_id,
        _sources(RunStatus.CANCELLED),
    )
    return len(changed)


async def reopen_runs(conn: Connection, session_ids: list[str], *, include_failed: bool) -> list[CourseRun]:
    """Reopen runs under a new epoch, so their handoffs are not taken for duplicates.

    Only runs still under way (a stall) or, with ``include_failed``, failed ones (a resume) are
    reopened. A completed, skipped or cancelled run never is, whatever the caller read before.
    """
    allowed = [str(RunStatus.PENDING), str(RunStatus.RUNNING)]
    if include_failed:
        allowed.append(str(RunStatus.FAILED))
    rows = await conn.fetch(
        counted_update(
            where="session_id = ANY($1::text[]) AND status = ANY($2::text[])",
            assignments=f"""status = 'running', epoch = epoch + 1, error_stage = NULL, error_kind = NULL,
                error_message = NULL, error_attempts = NULL, completed_at = NULL, last_progress_at = now(),
                progress_percentage = {run_progress("'running'", "modules_total", "steps_done")}""",
            returning=_RUN_COLUMNS,
        ),
        session_ids,
        allowed,
    )
    return [CourseRun.model_validate(dict(r)) for r in rows]


async def resumable_sessions(conn: Connection, job_id: uuid.UUID) -> list[str]:
    rows = await conn.fetch(
        "SELECT session_id FROM course_runs WHERE job_id = $1 AND status IN ('failed', 'pending', 'running')", job_id
    )
    return [r["session_id"] for r in rows]


async def set_modules_done(conn: Connection, session_id: str, done: int) -> None:
    await conn.execute("UPDATE course_runs SET modules_done = $2 WHERE session_id = $1", session_id, done)


async def stalled_sessions(conn: Connection, *, quiet_seconds: float, limit: int = 500) -> list[str]:
    """Runs under way, of jobs under way, with no event for ``quiet_seconds``, oldest first."""
    rows = await conn.fetch(
        """
        SELECT r.session_id
          FROM course_runs r JOIN course_generation_jobs j USING (job_id)
         WHERE r.status IN ('pending', 'running')
           AND j.status IN ('pending', 'running')
           AND r.last_progress_at < now() - make_interval(secs => $1)
         ORDER BY r.last_progress_at
         LIMIT $2
        """,
        quiet_seconds,
        limit,
    )
    return [r["session_id"] for r in rows]


async def outcome_counts(conn: Connection, job_id: uuid.UUID) -> tuple[int, int]:
    """(completed, failed) runs of a job."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'completed') AS ok, "
        "count(*) FILTER (WHERE status = 'failed') AS bad FROM course_runs WHERE job_id = $1",
        job_id,
    )
    assert row is not None
    return int(row["ok"]), int(row["bad"])


async def job_runs(conn: Connection, job_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """(employee_id, session_id) of a job's runs, in the order they were created."""
    rows = await conn.fetch(
        "SELECT employee_id, session_id FROM course_runs WHERE job_id = $1 ORDER BY started_at, employee_id", job_id
    )
    return [(r["employee_id"], r["session_id"]) for r in rows]
