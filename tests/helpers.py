"""Helpers for tests that drive the pipeline: companies, submitting jobs, waiting for them."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import nats

from coursegen.shared.consume import RetryPolicy, settle
from coursegen.shared.events import JobRequested
from coursegen.shared.service import Runtime, running
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database
from coursegen.shared.subjects import JOB_REQUESTED, SERVICES
from coursegen.stack.seed import EMPLOYEES, ROLES, DemoEmployee, seed_company, seed_knowledge_base
from tests.fakes import FakeDelivery, RecordingBus

TERMINAL = ("completed", "completed_with_errors", "failed", "cancelled")


async def make_company(
    db: asyncpg.Pool[Any], *, employees: Sequence[DemoEmployee] = EMPLOYEES
) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    """A fresh company of its own (roles, employees, knowledge base) for one test."""
    slug = f"test-{uuid.uuid4().hex[:10]}"
    database = Database(db)
    company_id, by_email = await seed_company(database, name=slug, slug=slug, roles=ROLES, employees=tuple(employees))
    await seed_knowledge_base(database, company_id)
    return company_id, by_email


def service_definition(name: str) -> Any:
    module = __import__(f"coursegen.{name}.app", fromlist=["service"])
    return module.service


IN_MEMORY_RETRY = RetryPolicy(max_deliveries=3, base_delay=0.1, max_delay=0.5)
"""The retry policy of handlers driven in memory: short delays."""


def in_memory_handler(name: str, settings: Settings, db: asyncpg.Pool[Any], bus: RecordingBus) -> Any:
    """A service's handler with no NATS: fed ``FakeDelivery``s through ``settle``, publishing to ``bus``."""
    runtime = Runtime(service=name, settings=settings, db=Database(db), bus=bus, broker=None)  # type: ignore[arg-type]
    return service_definition(name).subscriptions[0].make_handler(runtime)


async def accept_in_memory(
    settings: Settings, db: asyncpg.Pool[Any], bus: RecordingBus, company_id: uuid.UUID, employee_ids: list[uuid.UUID]
) -> JobRequested:
    """A job accepted by the coordinator with no NATS: its handoffs to the planner are on ``bus``."""
    request = JobRequested(job_id=uuid.uuid4(), company_id=company_id, employee_ids=employee_ids)
    coordinator = in_memory_handler("coordinator", settings, db, bus)
    delivery = FakeDelivery(JOB_REQUESTED, request.model_dump_json().encode())
    outcome = await settle(delivery, coordinator.handle, retry=IN_MEMORY_RETRY, on_permanent=coordinator.on_permanent)
    assert outcome == "ack", f"the coordinator did not accept the job: {outcome}"
    return request


@contextlib.asynccontextmanager
async def pipeline(settings: Settings, services: Sequence[str] = SERVICES) -> AsyncIterator[None]:
    """Every service running in this event loop against the test's servers."""
    async with contextlib.AsyncExitStack() as stack:
        for name in services:
            await stack.enter_async_context(running(service_definition(name), settings))
        yield


async def publish_raw(settings: Settings, subject: str, body: bytes, msg_id: str | None = None) -> None:
    """Publish with a bare nats-py client: no project code on the wire."""
    assert settings.nats_url
    nc = await nats.connect(settings.nats_url.split(","))
    try:
        js = nc.jetstream()
        await js.publish(subject, body, headers={"Nats-Msg-Id": msg_id or uuid.uuid4().hex})
    finally:
        await nc.close()


async def request_job(
    settings: Settings, company_id: uuid.UUID, employee_ids: Sequence[uuid.UUID] = (), **extra: Any
) -> uuid.UUID:
    job_id = uuid.uuid4()
    event = JobRequested(
        job_id=job_id, company_id=company_id, employee_ids=list(employee_ids), all_employees=not employee_ids, **extra
    )
    await publish_raw(settings, JOB_REQUESTED, event.model_dump_json().encode(), str(event.event_id))
    return job_id


async def wait_for_job(db: asyncpg.Pool[Any], job_id: uuid.UUID, *, timeout: float = 60) -> dict[str, Any]:
    """The job row once it has ended; fails the test on timeout with where it stood."""
    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        row = await db.fetchrow("SELECT * FROM course_generation_jobs WHERE job_id = $1", job_id)
        if row is not None and row["status"] in TERMINAL:
            # The tracker records its own job.completed right after closing the job.
            await wait_for(
                db, "SELECT 1 FROM cm_agent_handoffs WHERE job_id = $1 AND subject = 'coursegen.job.completed'", job_id
            )
            return dict(row)
        await asyncio.sleep(0.2)
    runs = await db.fetch(
        "SELECT session_id, status, current_stage, error_message FROM course_runs WHERE job_id = $1", job_id
    )
    raise AssertionError(
        f"job {job_id} did not end within {timeout}s: {dict(row) if row else None}; runs: {[dict(r) for r in runs]}"
    )


async def wait_for(db: asyncpg.Pool[Any], sql: str, *args: Any, timeout: float = 30) -> Any:
    """Poll a query until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await db.fetchval(sql, *args)
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {sql} {args}")
