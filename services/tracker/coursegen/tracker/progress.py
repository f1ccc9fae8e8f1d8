"""Job progress and completion: counted per event, in constant time, and each job closed once.

Each recorded event moves its run's and its job's counters by what it changed
(``store.progress``), never a recount of the job: a handoff to a per-module
stage is a (stage, module) step, counted once however often it is delivered or
re-driven; ``course.ready`` and ``course.skipped`` are a run's closing events.
The job closes when its counters say every run has ended and every finished
run's closing event is recorded, and ``job.completed`` is published in the
transaction that closed it.
"""

from __future__ import annotations

import uuid

from coursegen.shared.bus import Bus
from coursegen.shared.events import JobCompleted
from coursegen.shared.store import Connection, jobs, progress
from coursegen.shared.store.counters import JobCounters
from coursegen.shared.store.handoffs import EventRecord
from coursegen.shared.subjects import COURSE_READY, COURSE_SKIPPED, JOB_COMPLETED, MODULE_STAGES

PHASES = {
    "planner": "planning",
    "researcher": "research",
    "content": "content",
    "quality": "quality",
    "enhancer": "enhancement",
    "multimedia": "multimedia",
    "finalizer": "finalizing",
}
CLOSING_SUBJECTS = frozenset({COURSE_READY, COURSE_SKIPPED})
"""A run's last event: published after all of its handoffs."""
MAX_LISTED_FAILURES = 1000
"""``job.completed`` lists at most this many failed employees (it counts them all): events stay small."""


def phase_of(subject: str) -> str | None:
    if subject.startswith("coursegen.handoff."):
        return PHASES.get(subject.rsplit(".", 1)[-1])
    return None


def step_of(record: EventRecord) -> tuple[str, int] | None:
    """The (stage, module) step a handoff reaches, when it is a per-module stage's."""
    if not record.subject.startswith("coursegen.handoff.") or record.module_index is None:
        return None
    stage = record.subject.rsplit(".", 1)[-1]
    return (stage, record.module_index) if stage in MODULE_STAGES else None


async def count_event(conn: Connection, record: EventRecord) -> JobCounters | None:
    """Count a newly recorded event; the counters of its job afterwards (None: no job to count for)."""
    if record.subject == JOB_COMPLETED:
        return None
    if record.session_id is not None and record.success:
        counted = await progress.count_run_event(
            conn,
            record.session_id,
            step=step_of(record),
            closing=record.subject in CLOSING_SUBJECTS,
            phase=phase_of(record.subject),
        )
        if counted is not None:
            return counted
    if record.job_id is not None:
        return await progress.count_job_event(conn, record.job_id)
    return None


async def close_if_finished(conn: Connection, bus: Bus, counters: JobCounters) -> None:
    """Close the job when its counters say it is finished, and say so, once per completion."""
    if not counters.finished or counters.status.ended:
        return
    outcome = await jobs.close_job(conn, counters.job_id)
    if outcome is None:
        return  # closed by another delivery meanwhile
    await bus.publish(
        JOB_COMPLETED,
        JobCompleted(
            # Salted with the resumes: a resumed job completes again, as a new event.
            event_id=uuid.uuid5(outcome.job_id, f"completed:{outcome.epochs}"),
            job_id=outcome.job_id,
            company_id=outcome.company_id,
            source="tracker",
            status="completed_with_errors" if outcome.failed else "completed",
            successful_courses=outcome.successful,
            failed_courses=outcome.failed,
            failed_employee_ids=outcome.failed_employee_ids[:MAX_LISTED_FAILURES],
        ),
    )
