"""What the benchmarks share: a company of N employees, a job, and memory sampling."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

import psutil

from coursegen.shared.events import JobRequested
from coursegen.shared.store import Database, connect
from coursegen.shared.store.reports import TERMINAL_JOB_STATUSES, JobRef, find_job
from coursegen.shared.subjects import JOB_REQUESTED
from coursegen.stack.seed import EMPLOYEES, ROLES, seed_company, seed_knowledge_base
from coursegen.stack.supervisor import Stack, interrupt_on_stop_signals


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a benchmark; Ctrl-C or SIGTERM stops its stack (services and servers) before it exits."""
    with interrupt_on_stop_signals():
        try:
            asyncio.run(main)
        except KeyboardInterrupt:
            print("interrupted; the stack is stopped")


def parse_replicas(values: list[str]) -> dict[str, int]:
    replicas: dict[str, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        replicas[name] = int(count)
    return replicas


async def seed(database_url: str, employees: int) -> uuid.UUID:
    people = tuple(
        replace(e, name=f"{e.name} {i}", email=f"{i}.{e.email}")
        for i in range(-(-employees // len(EMPLOYEES)))
        for e in EMPLOYEES
    )[:employees]
    db = Database(await connect(database_url))
    try:
        slug = f"bench-{uuid.uuid4().hex[:8]}"
        company_id, _ = await seed_company(db, name=slug, slug=slug, roles=ROLES, employees=people)
        await seed_knowledge_base(db, company_id)
    finally:
        await db.close()
    return company_id


async def submit(nats_url: str, company_id: uuid.UUID) -> uuid.UUID:
    import nats

    job_id = uuid.uuid4()
    event = JobRequested(job_id=job_id, company_id=company_id, all_employees=True)
    nc = await nats.connect(nats_url.split(","))
    try:
        await nc.jetstream().publish(
            JOB_REQUESTED, event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.event_id)}
        )
    finally:
        await nc.close()
    return job_id


class MemorySampler:
    """Peak resident memory per service, over all its replicas and restarts."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            for proc in list(self.stack.processes):
                try:
                    rss = psutil.Process(proc.pid).memory_info().rss
                except psutil.Error:
                    continue
                self.peak[proc.name] = max(self.peak.get(proc.name, 0), rss)
            await asyncio.sleep(0.2)

    def __enter__(self) -> MemorySampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def wait_for_job(database_url: str, job_id: uuid.UUID, timeout: float) -> JobRef:
    db = Database(await connect(database_url))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with db.connection() as conn:
                job = await find_job(conn, job_id)
            if job is not None and job.status in TERMINAL_JOB_STATUSES:
                return job
            await asyncio.sleep(0.25)
        raise TimeoutError(f"job {job_id} did not end within {timeout:.0f} s")
    finally:
        await db.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
