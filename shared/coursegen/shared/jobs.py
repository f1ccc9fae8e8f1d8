"""Job control: cancel, resume. Used by the coordinator, the tracker's stall watcher and the CLI.

Resume re-drives a course run from its start with a raised ``epoch``: every
stage whose output is stored skips its agent (0 tokens) and hands on at once,
so the run continues exactly where it stopped, and finished work is never
redone. The new epoch gives the handoffs new message ids, so JetStream's
duplicate window does not swallow them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from coursegen.shared.bus import Bus
from coursegen.shared.events import Handoff, JobCompleted
from coursegen.shared.store import Executor
from coursegen.shared.subjects import JOB_COMPLETED, handoff_subject

log = logging.getLogger("coursegen.jobs")


async def cancel_job(db: Executor, bus: Bus, job_id: uuid.UUID, *, reason: str = "") -> bool:
    """Stop a job: stages stop taking its work; what is finished stays. False if already ended."""
    async with db.acquire() as conn, conn.transaction():  # type: ignore[union-attr]
        row = await conn.fetchrow(
            """
            UPDATE course_generation_jobs
               SET status = 'cancelled', completed_at = now(), current_phase = 'cancelled',
                   error_message = coalesce(nullif($2, ''), error_message)
             WHERE job_id = $1 AND status NOT IN ('completed', 'completed_with_errors', 'failed', 'cancelled')
            RETURNING company_id, successful_courses
            """,
            job_id,
            reason,
        )
        if row is None:
            return False
        await conn.execute(
            "UPDATE course_runs SET status = 'cancelled', completed_at = now() "
            "WHERE job_id = $1 AND status IN ('pending', 'running')",
            job_id,
        )
        counts = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'completed') AS ok, "
            "count(*) FILTER (WHERE status = 'failed') AS bad FROM course_runs WHERE job_id = $1",
            job_id,
        )
        assert counts is not None
        await bus.publish(
            JOB_COMPLETED,
            JobCompleted(
                event_id=uuid.uuid5(job_id, "cancelled"),
                job_id=job_id,
                company_id=row["company_id"],
                source="coordinator",
                status="cancelled",
                successful_courses=counts["ok"],
                failed_courses=counts["bad"],
            ),
        )
    log.info("job %s cancelled", job_id)
    return True


_REOPEN_RUNS = """
    UPDATE course_runs
       SET status = 'running', epoch = epoch + 1, error_stage = NULL, error_kind = NULL,
           error_message = NULL, error_attempts = NULL, completed_at = NULL, last_progress_at = now()
     WHERE session_id = ANY($1::text[])
    RETURNING session_id, job_id, company_id, employee_id, epoch
"""


async def redrive(bus: Bus, runs: list[dict[str, Any]]) -> None:
    """Hand reopened runs to the planner again, under their new epoch."""
    for run in runs:
        await bus.publish(
            handoff_subject("planner"),
            Handoff.create(
                stage="planner",
                from_stage="coordinator",
                job_id=run["job_id"],
                company_id=run["company_id"],
                employee_id=run["employee_id"],
                session_id=run["session_id"],
                epoch=run["epoch"],
            ),
        )


async def resume_runs(db: Executor, bus: Bus, session_ids: list[str]) -> int:
    """Re-drive these course runs from their last stored output (the stall watcher's way in)."""
    runs = [dict(r) for r in await db.fetch(_REOPEN_RUNS, session_ids)]
    await redrive(bus, runs)
    return len(runs)


async def resume_job(db: Executor, bus: Bus, job_id: uuid.UUID) -> int:
    """Continue every failed or unfinished run of a job. Returns how many runs were re-driven.

    The job and its runs reopen in one transaction under the job's row lock, the
    lock the tracker takes before it judges a job finished: it never sees the job
    reopened while its runs still look ended.
    """
    async with db.acquire() as conn, conn.transaction():  # type: ignore[union-attr]
        job = await conn.fetchrow("SELECT status FROM course_generation_jobs WHERE job_id = $1 FOR UPDATE", job_id)
        if job is None or job["status"] == "cancelled":
            return 0
        sessions = [
            r["session_id"]
            for r in await conn.fetch(
                "SELECT session_id FROM course_runs WHERE job_id = $1 AND status IN ('failed', 'pending', 'running')",
                job_id,
            )
        ]
        if not sessions:
            return 0
        await conn.execute(
            """
            UPDATE course_generation_jobs
               SET status = 'running', completed_at = NULL, error_message = NULL, failed_employee_ids = '{}'
             WHERE job_id = $1
            """,
            job_id,
        )
        runs = [dict(r) for r in await conn.fetch(_REOPEN_RUNS, sessions)]
    # Published after the commit: a run reopened without its handoff is picked up by the stall watcher.
    await redrive(bus, runs)
    log.info("job %s: resumed %d course run(s)", job_id, len(runs))
    return len(runs)
