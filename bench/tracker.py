"""The tracker's cost per event, for a 1,000-employee job, on an embedded PostgreSQL.

    uv run python bench/tracker.py --employees 1000 --modules 4
    uv run python bench/tracker.py --prefill 0.5 --events 500     # a window half-way through the job

Builds a job of N course runs through the store (as the coordinator and the
planner would), then feeds the job's synthetic event stream (job.accepted, the
planner's handoff per run, six handoffs per module, course.ready per run) to the
tracker's handler one event at a time, the way one tracker replica consumes
them. The stage-side writes (a run starting, planned, completed) are done
between events and are not timed. ``--prefill`` records the first part of the
stream directly (untimed), to time a window in the middle of a big job.

Prints events per second and the per-event latency, p50 and p95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import median, percentile, run

from coursegen.shared.events import Event, derived_id
from coursegen.shared.service import Runtime
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, connect, handoffs, jobs, runs
from coursegen.shared.subjects import COURSE_READY, JOB_ACCEPTED, MODULE_STAGES, handoff_subject
from coursegen.stack.embedded import EmbeddedPostgres
from coursegen.stack.migrate import migrate
from coursegen.stack.seed import EMPLOYEES, ROLES, seed_company
from coursegen.tracker.recorder import EventRecorder, event_record


@dataclass
class Delivery:
    subject: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    attempt: int = 1

    async def ack(self) -> None: ...
    async def nak(self, delay: float) -> None: ...
    async def term(self) -> None: ...
    async def in_progress(self) -> None: ...


@dataclass
class CountingBus:
    published: list[tuple[str, Event]] = field(default_factory=list)

    async def publish(self, subject: str, event: Event, *, headers: Mapping[str, str] | None = None) -> None:
        self.published.append((subject, event))


@dataclass(frozen=True)
class Step:
    """One event of the stream, and the stage's store write that precedes it (untimed)."""

    subject: str
    body: dict[str, Any]
    before: Callable[[Database], Awaitable[None]] | None = None


def _event(subject: str, job_id: uuid.UUID, company_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(derived_id("bench", subject, job_id, *fields.values())),
        "job_id": str(job_id),
        "company_id": str(company_id),
        "occurred_at": datetime.now(UTC).isoformat(),
        **fields,
    }


def run_stream(
    job_id: uuid.UUID, company_id: uuid.UUID, employee_id: uuid.UUID, session_id: str, modules: int
) -> list[Step]:
    """A course run's events in pipeline order."""
    ids = {"employee_id": str(employee_id), "session_id": session_id, "epoch": 0}

    async def start(db: Database) -> None:
        async with db.connection() as conn:
            await runs.start_stage(conn, session_id, "planner")

    async def plan(db: Database) -> None:
        async with db.connection() as conn:
            await runs.plan_modules(conn, session_id, modules)

    async def complete(db: Database) -> None:
        async with db.connection() as conn:
            await runs.complete_run(conn, session_id, modules)

    steps = [
        Step(
            handoff_subject("planner"),
            _event(handoff_subject("planner"), job_id, company_id, **ids, from_stage="coordinator", revision=0),
            start,
        )
    ]
    previous = "planner"
    for index in range(modules):
        for stage in MODULE_STAGES:
            body = _event(
                handoff_subject(stage), job_id, company_id, **ids, module_index=index, revision=0, from_stage=previous
            )
            steps.append(Step(handoff_subject(stage), body, plan if (index, stage) == (0, MODULE_STAGES[0]) else None))
            previous = stage
    steps.append(Step(COURSE_READY, _event(COURSE_READY, job_id, company_id, **ids, source="finalizer"), complete))
    return steps


def interleave(streams: list[list[Step]]) -> list[Step]:
    """Every run moves at the same pace, as when a job's runs go through the stages together."""
    out: list[Step] = []
    for position in range(max(len(s) for s in streams)):
        out.extend(s[position] for s in streams if position < len(s))
    return out


async def build_job(db: Database, employees: int, modules: int) -> tuple[uuid.UUID, list[Step]]:
    people = tuple(
        replace(e, name=f"{e.name} {i}", email=f"{i}.{e.email}")
        for i in range(-(-employees // len(EMPLOYEES)))
        for e in EMPLOYEES
    )[:employees]
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    company_id, by_email = await seed_company(db.pool, name=slug, slug=slug, roles=ROLES, employees=people)
    job_id = uuid.uuid4()
    sessions = [(f"{job_id}:{employee_id}", employee_id) for employee_id in by_email.values()]
    async with db.transaction() as conn:
        await jobs.create_job(
            conn,
            job_id=job_id,
            company_id=company_id,
            requested_by=None,
            employees=len(sessions),
            token_budget=None,
            request_event_id=uuid.uuid4(),
        )
        await runs.create_runs(conn, job_id, company_id, sessions)
    accepted = Step(JOB_ACCEPTED, _event(JOB_ACCEPTED, job_id, company_id, source="coordinator"))
    streams = [run_stream(job_id, company_id, e, s, modules) for s, e in sessions]
    return job_id, [accepted, *interleave(streams)]


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="coursegen-bench-tracker-"))
    postgres = EmbeddedPostgres(data_dir / "postgres").start()
    try:
        await asyncio.to_thread(migrate, postgres.url)
        pool = await connect(postgres.url, max_size=4)
        db = Database(pool)
        try:
            job_id, stream = await build_job(db, args.employees, args.modules)
            prefill = int(len(stream) * args.prefill)
            timed = stream[prefill:][: args.events] if args.events else stream[prefill:]
            print(f"job of {args.employees} runs x {args.modules} modules: {len(stream)} events in its stream")
            for step in stream[:prefill]:
                if step.before is not None:
                    await step.before(db)
                async with db.connection() as conn:
                    await handoffs.record_event(conn, event_record(step.subject, step.body, {}))
            bus = CountingBus()
            runtime = Runtime(service="tracker", settings=Settings(data_dir=data_dir), db=db, bus=bus, broker=None)  # type: ignore[arg-type]
            recorder = EventRecorder(runtime)
            latencies: list[float] = []
            started = time.perf_counter()
            for step in timed:
                if step.before is not None:
                    await step.before(db)
                delivery = Delivery(step.subject, json.dumps(step.body).encode())
                t0 = time.perf_counter()
                await recorder.handle(delivery)
                latencies.append(time.perf_counter() - t0)
            wall = time.perf_counter() - started
            async with db.connection() as conn:
                job = await jobs.get_job(conn, job_id)
            busy = sum(latencies)
            print(f"events fed to the tracker: {len(timed)} (after {prefill} recorded beforehand)")
            print(f"events/second (tracker time only): {len(timed) / busy:.1f}   (wall, with stage writes: "
                  f"{len(timed) / wall:.1f})")  # fmt: skip
            print(
                f"per-event latency: p50 {median(latencies) * 1000:.2f} ms, "
                f"p95 {percentile(latencies, 95) * 1000:.2f} ms, max {max(latencies) * 1000:.2f} ms"
            )
            print(f"job status afterwards: {job.status if job else '?'}; job.completed published: "
                  f"{sum(1 for s, _ in bus.published if s.endswith('job.completed'))}")  # fmt: skip
        finally:
            await pool.close()
    finally:
        postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=1000)
    parser.add_argument("--modules", type=int, default=4, help="modules per course")
    parser.add_argument("--events", type=int, default=0, help="how many events to time (0: the rest of the stream)")
    parser.add_argument("--prefill", type=float, default=0.0, help="fraction of the stream recorded untimed first")
    parser.add_argument("--data-dir", help="where PostgreSQL keeps its data (default: a new temporary folder)")
    run(main(parser.parse_args()))
