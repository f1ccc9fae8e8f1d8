"""A job request that ran out of deliveries is refused, unless its job was created before the coordinator died."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from coursegen.shared.events import JobRejected
from coursegen.shared.service import Runtime
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, jobs
from coursegen.shared.subjects import JOB_REJECTED
from coursegen.stack.seed import EMPLOYEES
from coursegen.tracker.dead_letters import DeadLetterHandler
from tests.fakes import RecordingBus
from tests.helpers import make_company


def handler_with(settings: Settings, db: asyncpg.Pool[Any]) -> tuple[DeadLetterHandler, RecordingBus]:
    bus = RecordingBus()
    return DeadLetterHandler(Runtime("tracker", settings, Database(db), bus, broker=None)), bus  # type: ignore[arg-type]


async def test_a_request_whose_job_exists_is_not_rejected(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, _ = await make_company(db, employees=EMPLOYEES[:1])
    request_id = uuid.uuid4()
    async with Database(db).transaction() as conn:
        await jobs.create_job(conn, job_id=uuid.uuid4(), company_id=company_id, requested_by=None, employees=1,
                              token_budget=None, request_event_id=request_id)  # fmt: skip
    handler, bus = handler_with(settings, db)
    body = json.dumps({"event_id": str(request_id), "company_id": str(company_id)}).encode()
    await handler._reject_request(body, "no delivery succeeded")
    assert bus.published == [], "the job was accepted: refusing its request now would contradict it"


async def test_a_request_that_made_no_job_is_rejected(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, _ = await make_company(db, employees=EMPLOYEES[:1])
    request_id = uuid.uuid4()
    handler, bus = handler_with(settings, db)
    body = json.dumps({"event_id": str(request_id), "company_id": str(company_id)}).encode()
    await handler._reject_request(body, "no delivery succeeded")
    [(subject, event)] = bus.published
    assert subject == JOB_REJECTED and isinstance(event, JobRejected)
    assert event.request_event_id == request_id and "no delivery succeeded" in event.reason


async def test_a_malformed_request_is_still_rejected(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    handler, bus = handler_with(settings, db)
    await handler._reject_request(b"{not json", "no delivery succeeded")
    await handler._reject_request(json.dumps({"event_id": "not-a-uuid"}).encode(), "no delivery succeeded")
    assert [subject for subject, _ in bus.published] == [JOB_REJECTED, JOB_REJECTED]
