"""Job progress and completion: the tracker keeps them current, and closes each job once."""

from __future__ import annotations

import uuid

from coursegen.shared.bus import Bus
from coursegen.shared.events import JobCompleted
from coursegen.shared.store import Database, progress
from coursegen.shared.subjects import JOB_COMPLETED

PHASES = {
    "planner": "planning",
    "researcher": "research",
    "content": "content",
    "quality": "quality",
    "enhancer": "enhancement",
    "multimedia": "multimedia",
    "finalizer": "finalizing",
}
MAX_LISTED_FAILURES = 1000
"""``job.completed`` lists at most this many failed employees (it counts them all): events stay small."""


def phase_of(subject: str) -> str | None:
    if subject.startswith("coursegen.handoff."):
        return PHASES.get(subject.rsplit(".", 1)[-1])
    return None


async def refresh_job(db: Database, bus: Bus, job_id: uuid.UUID, *, subject: str) -> None:
    """Bring a job's progress up to date; close it (once) when every run has ended."""
    async with db.transaction() as conn:
        outcome = await progress.refresh_job(conn, job_id, phase=phase_of(subject))
        if outcome is None:
            return
        await bus.publish(
            JOB_COMPLETED,
            JobCompleted(
                # Salted with the resumes: a resumed job completes again, as a new event.
                event_id=uuid.uuid5(job_id, f"completed:{outcome.epochs}"),
                job_id=job_id,
                company_id=outcome.company_id,
                source="tracker",
                status="completed_with_errors" if outcome.failed else "completed",
                successful_courses=outcome.successful,
                failed_courses=outcome.failed,
                failed_employee_ids=outcome.failed_employee_ids[:MAX_LISTED_FAILURES],
            ),
        )
