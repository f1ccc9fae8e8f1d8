"""Property: whatever order a job's events reach the tracker in, twice or after a failed attempt, its
counters end equal to a count from scratch, and ``job.completed`` is said once per completion.

A small job is played as its stages would play it (runs start, are planned, move module by
module through the stages, are completed; one run fails and the job is resumed; a failure of the
old epoch arrives late), with each store write made by the store's own transition functions.
Hypothesis interleaves those writes with the deliveries of the events they emit to the real
tracker handler, delivers events twice, and makes the tracker's publish fail now and then (the
message is then delivered again, as JetStream would after a nak).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from coursegen.shared.events import (
    CourseReady,
    CourseSkipped,
    Event,
    Handoff,
    JobAccepted,
    JobControl,
    StageFailed,
    derived_id,
)
from coursegen.shared.jobs import resume_job
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, jobs, runs
from coursegen.shared.subjects import (
    COURSE_READY,
    COURSE_SKIPPED,
    JOB_ACCEPTED,
    JOB_COMPLETED,
    JOB_RESUME,
    STAGE_FAILED,
    Stage,
    handoff_subject,
)
from coursegen.stack.seed import EMPLOYEES
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import in_memory_handler, make_company
from tests.tracker.recount import recount, stored

_company: dict[str, Any] = {}


async def company(db: asyncpg.Pool[Any]) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """One company for every example: each example is a new job of its employees."""
    if not _company:
        company_id, employees = await make_company(db, employees=EMPLOYEES)
        _company.update(id=company_id, employees=list(employees.values()))
    return _company["id"], _company["employees"]


class BusAway(Exception):
    """The bus did not take a publish: the tracker's delivery fails and is delivered again."""


@dataclass
class FlakyBus(RecordingBus):
    fail_next: Callable[[], bool] = lambda: False
    max_outage = 3
    """Publishes refused in a row, at most: the bus comes back (else an example of all outages replays
    one delivery thousands of times and proves nothing more)."""
    refused_in_a_row = 0

    async def publish(self, subject: str, event: Event, *, headers: Any = None) -> None:
        if self.refused_in_a_row < self.max_outage and self.fail_next():
            self.refused_in_a_row += 1
            raise BusAway(subject)
        self.refused_in_a_row = 0
        await super().publish(subject, event, headers=headers)


Emitted = list[tuple[str, Event]]
Write = Callable[[Database], Awaitable[Emitted]]


@dataclass
class Run:
    """A course run as its stages play it: a queue of store writes, each emitting events."""

    session_id: str
    employee_id: uuid.UUID
    modules: int
    revised: list[bool]
    fails_at: int | None
    """After how many of its writes it fails (then waits for the resume), or never."""
    late_failure: bool
    """A failure of its old epoch arrives after the resume (and must change nothing)."""
    writes: list[Write] = field(default_factory=list)
    done: int = 0
    failed: bool = False


def handoff(job_id: uuid.UUID, company_id: uuid.UUID, run: Run, stage: Stage, epoch: int, **unit: Any) -> Handoff:
    return Handoff.create(
        stage=stage,
        from_stage="test",
        job_id=job_id,
        company_id=company_id,
        employee_id=run.employee_id,
        session_id=run.session_id,
        epoch=epoch,
        **unit,
    )


def play(job_id: uuid.UUID, company_id: uuid.UUID, run: Run, epoch: int) -> list[Write]:
    """The run's writes for one epoch, as the planner, the module stages and the finalizer make them."""
    planner = handoff(job_id, company_id, run, "planner", epoch)

    async def start(db: Database) -> Emitted:
        async with db.connection() as conn:
            await runs.start_stage(conn, run.session_id, "planner")
        return []

    async def plan(db: Database) -> Emitted:
        async with db.transaction() as conn:
            await runs.plan_modules(conn, run.session_id, run.modules)
        if run.modules == 0:
            skipped = CourseSkipped(event_id=derived_id("skipped", run.session_id, epoch), reason="no gaps",
                                    **planner.run_ids())  # type: ignore[arg-type]  # fmt: skip
            return [(COURSE_SKIPPED, skipped)]
        return [
            (handoff_subject("researcher"), handoff(job_id, company_id, run, "researcher", epoch, module_index=i))
            for i in range(run.modules)
        ]

    def passes_on(stage: Stage, module: int, revision: int) -> Write:
        async def write(db: Database) -> Emitted:
            return [(handoff_subject(stage), handoff(job_id, company_id, run, stage, epoch, module_index=module,
                                                     revision=revision))]  # fmt: skip

        return write

    async def finalize(db: Database) -> Emitted:
        async with db.transaction() as conn:
            await runs.complete_run(conn, run.session_id, run.modules)
        ready = CourseReady(event_id=derived_id("ready", run.session_id, epoch), course_id=uuid.uuid4(), title="t",
                            total_modules=run.modules, **planner.run_ids())  # type: ignore[arg-type]  # fmt: skip
        return [(COURSE_READY, ready)]

    writes: list[Write] = [start, plan]
    if run.modules:
        for module in range(run.modules):
            chain: list[tuple[Stage, int]] = [("content", 0), ("quality", 0)]
            if run.revised[module]:
                chain += [("content", 1), ("quality", 1)]  # the quality loop sends it back once
            chain += [("enhancer", 0), ("multimedia", 0), ("finalizer", 0)]
            writes += [passes_on(stage, module, revision) for stage, revision in chain]
        writes.append(finalize)
    return writes


def failure(job_id: uuid.UUID, company_id: uuid.UUID, run: Run, *, late: bool) -> Write:
    async def fail(db: Database) -> Emitted:
        async with db.connection() as conn:
            changed = await runs.fail_run(conn, run.session_id, epoch=0, stage="content", kind="agent_error",
                                          message="the model refused", attempts=1)  # fmt: skip
        assert changed is not late, "a failure of an older epoch never fails the resumed run"
        failed = StageFailed.about(
            handoff(job_id, company_id, run, "content", 0, module_index=0),
            event_id=derived_id("failed", run.session_id, late),
            stage="content",
            kind="agent_error",
            message="the model refused",
            attempt=1,
            subject=handoff_subject("content"),
            source="content",
        )
        return [(STAGE_FAILED, failed)]

    return fail


@st.composite
def job_shapes(draw: st.DrawFn) -> list[tuple[int, list[bool], int | None, bool]]:
    """Per run: modules, which modules are revised once, where it fails (the first run always does)."""
    shapes = []
    for index in range(draw(st.integers(1, 3))):
        modules = draw(st.integers(0, 2))
        revised = [draw(st.booleans()) for _ in range(modules)]
        writes = 2 + sum(5 + 2 * r for r in revised) + (1 if modules else 0)
        fails = index == 0 or draw(st.booleans())
        fails_at = draw(st.integers(1, writes - 1)) if fails else None
        shapes.append((modules, revised, fails_at, fails and draw(st.booleans())))
    return shapes


# Each example plays a whole job against the database: no shrinking (it would replay hundreds of them);
# a failure is reported as the example that failed.
@hypothesis_settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(shape=job_shapes(), data=st.data())
async def test_counters_equal_a_count_from_scratch_whatever_the_order(
    shape: list[tuple[int, list[bool], int | None, bool]], data: st.DataObject, settings: Settings,
    db: asyncpg.Pool[Any],
) -> None:  # fmt: skip
    company_id, employees = await company(db)
    database = Database(db)
    job_id = uuid.uuid4()
    job_runs = [
        Run(f"{job_id}:{employee}", employee, modules, revised, fails_at, late)
        for (modules, revised, fails_at, late), employee in zip(shape, employees, strict=False)
    ]
    async with database.transaction() as conn:
        await jobs.create_job(conn, job_id=job_id, company_id=company_id, requested_by=None,
                              employees=len(job_runs), token_budget=None, request_event_id=uuid.uuid4())  # fmt: skip
        await runs.create_runs(conn, job_id, company_id, [(r.session_id, r.employee_id) for r in job_runs])
        job = await jobs.get_job(conn, job_id)
    assert job is not None
    for run in job_runs:
        run.writes = play(job_id, company_id, run, 0)

    bus = FlakyBus(fail_next=lambda: data.draw(st.integers(0, 3), label="bus away") == 0)
    pending: list[tuple[str, bytes]] = []
    delivered: set[bytes] = set()

    def emit(events: Emitted) -> None:
        for subject, event in events:
            body = event.model_dump_json().encode()
            pending.extend([(subject, body)] * data.draw(st.integers(1, 2), label="copies"))

    emit([(JOB_ACCEPTED, JobAccepted(job_id=job_id, company_id=company_id, request_event_id=uuid.uuid4(),
                                     employees=len(job_runs), source="coordinator"))])  # fmt: skip
    emit([(handoff_subject("planner"), handoff(job_id, company_id, r, "planner", 0)) for r in job_runs])
    resumed = False

    def next_writes() -> list[Run]:
        return [r for r in job_runs if r.done < len(r.writes) and not (r.failed and not resumed)]

    while True:
        ready = next_writes()
        can_resume = not resumed and all(r.failed for r in job_runs if r.fails_at is not None)
        choices = len(ready) + len(pending) + (1 if can_resume else 0)
        if choices == 0:
            break
        pick = data.draw(st.integers(0, choices - 1), label="next")
        if pick < len(ready):
            run = ready[pick]
            if not resumed and run.fails_at is not None and run.done == run.fails_at and not run.failed:
                emit(await failure(job_id, company_id, run, late=False)(database))
                run.failed = True
                continue
            emit(await run.writes[run.done](database))
            run.done += 1
        elif pick < len(ready) + len(pending):
            subject, body = pending.pop(pick - len(ready))
            tracker = in_memory_handler("tracker", settings, db, bus)  # a fresh one: as after a restart
            published = len(bus.published)
            try:
                await tracker.handle(FakeDelivery(subject, body))
            except BusAway:
                pending.append((subject, body))  # not acked: delivered again
                continue
            delivered.add(body)
            # What the tracker publishes, it also consumes.
            emit(bus.published[published:])
        else:
            resumed = True
            control = RecordingBus()
            emit([(JOB_RESUME, JobControl(job_id=job_id))])
            await resume_job(database, control, job)
            emit(control.published)
            for run in job_runs:
                if run.failed:
                    run.writes, run.done = play(job_id, company_id, run, 1), 0
                    if run.late_failure:
                        at = data.draw(st.integers(0, len(run.writes)), label="late failure")
                        run.writes.insert(at, failure(job_id, company_id, run, late=True))

    counted, expected = await stored(db, job_id), await recount(db, job_id)
    assert counted == expected
    final = await db.fetchrow("SELECT * FROM course_generation_jobs WHERE job_id = $1", job_id)
    assert final is not None
    assert final["status"] == "completed" and final["progress_percentage"] == 100
    assert final["successful_courses"] == sum(1 for r in job_runs if r.modules)
    assert final["statistics"]["no_gaps"] == sum(1 for r in job_runs if not r.modules)
    completions = [e for s, e in bus.published if s == JOB_COMPLETED]
    assert len({e.event_id for e in completions}) == len(completions), "job.completed said twice"
    assert 1 <= len(completions) <= 2, "once, and once more after the resume if it had ended with errors"
    last = json.loads(completions[-1].model_dump_json())
    assert last["status"] == "completed" and last["successful_courses"] == final["successful_courses"]
    if len(completions) == 2:
        assert json.loads(completions[0].model_dump_json())["status"] == "completed_with_errors"
