"""Per-company limits: over one, a clear rejection and nothing half-done."""

from __future__ import annotations

from typing import Any

import asyncpg

from coursegen.coordinator.control import ControlHandler
from coursegen.shared.consume import settle
from coursegen.shared.events import JobAccepted, JobControl, JobRejected, JobRequested, StageFailed
from coursegen.shared.service import Runtime
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database
from coursegen.shared.subjects import JOB_REQUESTED, JOB_RESUME
from coursegen.stack.seed import EMPLOYEES
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import IN_MEMORY_RETRY, in_memory_handler, make_company


async def deliver(handler: Any, subject: str, body: bytes) -> str:
    delivery = FakeDelivery(subject, body)
    return await settle(delivery, handler.handle, retry=IN_MEMORY_RETRY, on_permanent=handler.on_permanent)


async def request_twice(settings: Settings, db: asyncpg.Pool[Any]) -> tuple[Any, RecordingBus]:
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    bus = RecordingBus()
    coordinator = in_memory_handler("coordinator", settings, db, bus)
    for _ in range(2):
        request = JobRequested(company_id=company_id, employee_ids=list(employees.values()))
        assert await deliver(coordinator, JOB_REQUESTED, request.model_dump_json().encode()) == "ack"
    return company_id, bus


async def test_jobs_at_once(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, bus = await request_twice(settings.model_copy(update={"max_active_jobs_per_company": 1}), db)
    assert len([e for _, e in bus.published if isinstance(e, JobAccepted)]) == 1
    [rejected] = [e for _, e in bus.published if isinstance(e, JobRejected)]
    assert "1 jobs under way, the most it may have at once (1)" in rejected.reason
    assert await db.fetchval("SELECT count(*) FROM course_generation_jobs WHERE company_id = $1", company_id) == 1


async def test_jobs_a_minute(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, bus = await request_twice(settings.model_copy(update={"max_jobs_per_minute_per_company": 1}), db)
    [rejected] = [e for _, e in bus.published if isinstance(e, JobRejected)]
    assert "1 jobs in the last minute, the most it may (1)" in rejected.reason
    assert await db.fetchval("SELECT count(*) FROM course_generation_jobs WHERE company_id = $1", company_id) == 1


async def test_resumes_a_minute(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    capped = settings.model_copy(update={"max_resumes_per_minute_per_company": 1})
    company_id, bus = await request_twice(capped, db)
    job_id = next(e for _, e in bus.published if isinstance(e, JobAccepted)).job_id
    control = ControlHandler(Runtime("coordinator", capped, Database(db), bus, broker=None))  # type: ignore[arg-type]
    resume = JobControl(job_id=job_id, company_id=company_id)
    assert await deliver(control, JOB_RESUME, resume.model_dump_json().encode()) == "ack"
    assert await deliver(control, JOB_RESUME, resume.model_dump_json().encode()) == "term"
    [failed] = [e for _, e in bus.published if isinstance(e, StageFailed)]
    assert failed.kind == "limit_exceeded" and "resumes in the last minute" in failed.message
