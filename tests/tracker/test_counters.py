"""The counters a job's progress and completion are kept in: each change counted once, in any order."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from coursegen.shared.events import CourseReady, Event, Handoff, StageFailed, derived_id
from coursegen.shared.jobs import cancel_job, resume_job
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, jobs, runs
from coursegen.shared.subjects import COURSE_READY, JOB_COMPLETED, STAGE_FAILED, Stage, handoff_subject
from coursegen.stack.seed import EMPLOYEES
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import in_memory_handler, make_company, wait_for
from tests.tracker.recount import recount, stored


class Job:
    """A job of a few runs, written through the store as its stages would, and its tracker."""

    def __init__(self, db: asyncpg.Pool[Any], settings: Settings, company_id: uuid.UUID, employees: list[uuid.UUID]):
        self.db, self.database, self.settings = db, Database(db), settings
        self.company_id = company_id
        self.job_id = uuid.uuid4()
        self.sessions = {f"{self.job_id}:{e}": e for e in employees}
        self.bus = RecordingBus()

    @classmethod
    async def create(cls, db: asyncpg.Pool[Any], settings: Settings, runs_count: int = 2) -> Job:
        company_id, employees = await make_company(db, employees=EMPLOYEES[:runs_count])
        job = cls(db, settings, company_id, list(employees.values()))
        async with job.database.transaction() as conn:
            await jobs.create_job(conn, job_id=job.job_id, company_id=company_id, requested_by=None,
                                  employees=runs_count, token_budget=None, request_event_id=uuid.uuid4())  # fmt: skip
            await runs.create_runs(conn, job.job_id, company_id, [(s, e) for s, e in job.sessions.items()])
        return job

    @property
    def session_ids(self) -> list[str]:
        return list(self.sessions)

    def handoff(self, session_id: str, stage: Stage, module: int | None = None, epoch: int = 0) -> Handoff:
        return Handoff.create(stage=stage, from_stage="test", job_id=self.job_id, company_id=self.company_id,
                              employee_id=self.sessions[session_id], session_id=session_id, module_index=module,
                              epoch=epoch)  # fmt: skip

    def ready(self, session_id: str, epoch: int = 0) -> CourseReady:
        return CourseReady(event_id=derived_id("ready", session_id, epoch), course_id=uuid.uuid4(), title="t",
                           total_modules=1, **self.handoff(session_id, "finalizer", 0, epoch).run_ids())  # type: ignore[arg-type]  # fmt: skip

    def failed(self, session_id: str) -> StageFailed:
        return StageFailed.about(self.handoff(session_id, "content", 0), event_id=uuid.uuid4(), stage="content",
                                 kind="agent_error", message="the model refused", attempt=1,
                                 subject=handoff_subject("content"), source="content")  # fmt: skip

    async def deliver(self, subject: str, event: Event) -> None:
        tracker = in_memory_handler("tracker", self.settings, self.db, self.bus)
        await tracker.handle(FakeDelivery(subject, event.model_dump_json().encode()))

    async def step(self, session_id: str, stage: Stage, module: int, epoch: int = 0) -> None:
        await self.deliver(handoff_subject(stage), self.handoff(session_id, stage, module, epoch))

    async def start_and_plan(self, session_id: str, modules: int) -> None:
        async with self.database.transaction() as conn:
            await runs.start_stage(conn, session_id, "planner")
            await runs.plan_modules(conn, session_id, modules)

    async def complete(self, session_id: str, modules: int = 1) -> None:
        async with self.database.transaction() as conn:
            await runs.complete_run(conn, session_id, modules)

    async def fail(self, session_id: str, epoch: int = 0) -> bool:
        async with self.database.connection() as conn:
            return await runs.fail_run(conn, session_id, epoch=epoch, stage="content", kind="agent_error",
                                       message="the model refused", attempts=1)  # fmt: skip

    async def row(self) -> dict[str, Any]:
        row = await self.db.fetchrow("SELECT * FROM course_generation_jobs WHERE job_id = $1", self.job_id)
        assert row is not None
        return dict(row)

    async def run_row(self, session_id: str) -> dict[str, Any]:
        row = await self.db.fetchrow("SELECT * FROM course_runs WHERE session_id = $1", session_id)
        assert row is not None
        return dict(row)

    def completions(self) -> list[Event]:
        return [e for s, e in self.bus.published if s == JOB_COMPLETED]

    async def assert_exact(self) -> None:
        assert await stored(self.db, self.job_id) == await recount(self.db, self.job_id)


async def test_a_step_counts_once_however_often_it_is_reached(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    job = await Job.create(db, settings, runs_count=1)
    [session] = job.session_ids
    await job.start_and_plan(session, 2)
    assert (await job.run_row(session))["progress_percentage"] == 10, "planned: 10%"
    for _ in range(2):  # a redelivery
        await job.step(session, "researcher", 0)
    await job.step(session, "researcher", 0, epoch=1)  # re-driven by a resume: a new event, the same step
    run = await job.run_row(session)
    assert run["steps_done"] == 1
    assert run["progress_percentage"] == 10 + 85 // 12, "one of twelve steps: an equal share of 85%"
    job_row = await job.row()
    assert job_row["progress_percentage"] == run["progress_percentage"] and job_row["status"] == "running"
    assert job_row["current_phase"] == "research"
    await job.assert_exact()


async def test_a_finished_run_counts_once_its_closing_event_is_recorded(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    job = await Job.create(db, settings, runs_count=1)
    [session] = job.session_ids
    await job.start_and_plan(session, 1)
    await job.complete(session)
    row = await job.row()
    assert (row["runs_ended"], row["runs_closed"], row["successful_courses"]) == (1, 0, 1)
    assert row["status"] == "pending" and job.completions() == [], "not closed before its course.ready is recorded"
    for _ in range(2):
        await job.deliver(COURSE_READY, job.ready(session))
    row = await job.row()
    assert row["status"] == "completed" and row["progress_percentage"] == 100 and row["runs_closed"] == 1
    [completed] = job.completions()
    assert completed.model_dump()["successful_courses"] == 1
    await job.assert_exact()


async def test_a_resumed_run_moves_its_counts_back_and_the_job_completes_again(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    job = await Job.create(db, settings, runs_count=2)
    ok, bad = job.session_ids
    for session in (ok, bad):
        await job.start_and_plan(session, 1)
    await job.complete(ok)
    await job.deliver(COURSE_READY, job.ready(ok))
    assert await job.fail(bad)
    await job.deliver(STAGE_FAILED, job.failed(bad))
    row = await job.row()
    assert row["status"] == "completed_with_errors" and row["failed_employee_ids"] == [job.sessions[bad]]
    assert (row["failed_courses"], row["runs_ended"], row["runs_closed"]) == (1, 2, 2)

    async with job.database.connection() as conn:
        current = await jobs.get_job(conn, job.job_id)
    assert current is not None
    assert await resume_job(job.database, RecordingBus(), current) == 1
    row = await job.row()
    assert row["status"] == "running" and row["progress_percentage"] < 100
    assert (row["failed_courses"], row["runs_ended"], row["runs_closed"]) == (0, 1, 1), "the failure no longer counts"
    assert not await job.fail(bad, epoch=0), "a failure of the old epoch changes nothing"
    await job.assert_exact()

    await job.complete(bad)
    await job.deliver(COURSE_READY, job.ready(bad, epoch=1))
    row = await job.row()
    assert row["status"] == "completed" and row["successful_courses"] == 2 and row["failed_employee_ids"] == []
    first, second = job.completions()
    assert first.event_id != second.event_id, "a completion after a resume is a new event"
    await job.assert_exact()


async def test_concurrent_failures_of_one_run_count_once(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    """Modules fail side by side: only the failure that changes the run counts, also when the others
    wait for its row lock and then find the run failed."""
    job = await Job.create(db, settings, runs_count=1)
    [session] = job.session_ids
    await job.start_and_plan(session, 3)
    async with job.database.transaction() as first:
        assert await runs.fail_run(first, session, epoch=0, stage="content", kind="agent_error", message="m",
                                   attempts=1)  # fmt: skip
        waiting = [asyncio.create_task(job.fail(session)) for _ in range(3)]
        # Each is blocked on the run's row lock until this transaction commits.
        await wait_for(db, "SELECT count(*) >= 3 FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        assert not any(t.done() for t in waiting)
    assert await asyncio.gather(*waiting) == [False, False, False]
    row = await job.row()
    assert (row["failed_courses"], row["runs_ended"], row["runs_closed"]) == (1, 1, 1)
    await job.assert_exact()


async def test_concurrent_events_and_transitions_stay_exact(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    job = await Job.create(db, settings, runs_count=3)
    for session in job.session_ids:
        await job.start_and_plan(session, 2)

    async def lane(session: str) -> None:
        for module in range(2):
            for stage in ("researcher", "content", "quality", "enhancer", "multimedia", "finalizer"):
                await job.step(session, stage, module)  # type: ignore[arg-type]
        await job.complete(session, 2)
        await job.deliver(COURSE_READY, job.ready(session))

    # Every lane twice at once: each event and each transition is made by two deliveries side by side.
    await asyncio.gather(*(lane(s) for s in job.session_ids * 2))
    row = await job.row()
    assert row["status"] == "completed" and row["successful_courses"] == 3
    assert len(job.completions()) == 1
    await job.assert_exact()


async def test_cancel_counts_every_unfinished_run(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    job = await Job.create(db, settings, runs_count=2)
    done, open_ = job.session_ids
    for session in (done, open_):
        await job.start_and_plan(session, 1)
    await job.complete(done)
    async with job.database.connection() as conn:
        current = await jobs.get_job(conn, job.job_id)
    assert current is not None
    assert await cancel_job(job.database, RecordingBus(), current)
    row = await job.row()
    assert row["status"] == "cancelled" and row["runs_cancelled"] == 1 and row["successful_courses"] == 1
    await job.deliver(COURSE_READY, job.ready(done))  # the finished run's closing event, late
    await job.assert_exact()
