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

from coursegen.shared.bus import Bus
from coursegen.shared.errors import TransitionRefused
from coursegen.shared.events import Handoff, JobCompleted
from coursegen.shared.store import Connection, Database, jobs, runs
from coursegen.shared.store.jobs import JobStatus
from coursegen.shared.store.runs import CourseRun
from coursegen.shared.subjects import JOB_COMPLETED, handoff_subject

log = logging.getLogger("coursegen.jobs")


class _AlreadyEnded(Exception):
    """The job ended before this change could be made: the transaction is rolled back."""


async def cancel_job(db: Database, bus: Bus, job: jobs.Job, *, reason: str = "") -> bool:
    """Stop a job: stages stop taking its work; what is finished stays. False if already ended."""
    try:
        async with db.transaction() as conn:
            # Runs first, then the job: the order in which every writer locks them.
            await runs.cancel_runs(conn, job.job_id)
            if not await jobs.cancel_job(conn, job.job_id, reason=reason):
                raise _AlreadyEnded
            ok, bad = await runs.outcome_counts(conn, job.job_id)
            await bus.publish(
                JOB_COMPLETED,
                JobCompleted(
                    event_id=uuid.uuid5(job.job_id, "cancelled"),
                    job_id=job.job_id,
                    company_id=job.company_id,
                    source="coordinator",
                    status="cancelled",
                    successful_courses=ok,
                    failed_courses=bad,
                ),
            )
    except _AlreadyEnded:
        return False
    log.info("job %s cancelled", job.job_id)
    return True


async def redrive(bus: Bus, reopened: list[CourseRun]) -> None:
    """Hand reopened runs to the planner again, under their new epoch."""
    for run in reopened:
        await bus.publish(
            handoff_subject("planner"),
            Handoff.create(
                stage="planner",
                from_stage="coordinator",
                job_id=run.job_id,
                company_id=run.company_id,
                employee_id=run.employee_id,
                session_id=run.session_id,
                epoch=run.epoch,
            ),
        )


async def resume_stalled(conn: Connection, bus: Bus, session_ids: list[str]) -> int:
    """Re-drive these stalled course runs from their last stored output (the stall watcher's way in).

    Only runs still under way are reopened: one that ended meanwhile stays as it is.
    """
    reopened = await runs.reopen_runs(conn, session_ids, include_failed=False)
    await redrive(bus, reopened)
    return len(reopened)


async def resume_job(db: Database, bus: Bus, job: jobs.Job) -> int:
    """Continue every failed or unfinished run of a job. Returns how many runs were re-driven.

    The job and its runs reopen in one transaction, and the runs' reopening moves
    the job's counters in it too: the tracker, which judges a job finished from its
    counters, never sees the job reopened while its runs still count as ended.
    Runs are locked before the job, as by every writer. Completed, skipped and
    cancelled runs are never reopened.
    """
    try:
        async with db.transaction() as conn:
            current = await jobs.get_job(conn, job.job_id)
            if current is None or current.status is JobStatus.CANCELLED:
                return 0
            sessions = await runs.resumable_sessions(conn, job.job_id)
            if not sessions:
                return 0
            reopened = await runs.reopen_runs(conn, sessions, include_failed=True)
            try:
                await jobs.reopen_job(conn, job.job_id)
            except TransitionRefused as exc:
                raise _AlreadyEnded from exc  # cancelled meanwhile: nothing is reopened
    except _AlreadyEnded:
        return 0
    # Published after the commit: a run reopened without its handoff is picked up by the stall watcher.
    await redrive(bus, reopened)
    log.info("job %s: resumed %d course run(s)", job.job_id, len(reopened))
    return len(reopened)
