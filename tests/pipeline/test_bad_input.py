"""Bad input gets a clear answer, nothing crashes, and the bus keeps flowing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import nats
import pytest

from coursegen.shared.settings import Settings
from coursegen.stack.seed import EMPLOYEES
from tests.helpers import make_company, pipeline, publish_raw, request_job, wait_for, wait_for_job


@pytest.fixture(scope="module")
async def running_pipeline(settings: Settings) -> AsyncIterator[None]:
    async with pipeline(settings):
        yield


async def rejection_for(settings: Settings, body: bytes) -> dict[str, Any]:
    """Publish a raw job request and return the job.rejected event that answers it."""
    assert settings.nats_url
    nc = await nats.connect(settings.nats_url.split(","))
    marker = uuid.uuid4()
    try:
        sub = await nc.subscribe("coursegen.job.rejected")
        await publish_raw(settings, "coursegen.job.requested", body.replace(b"$EVENT", str(marker).encode()))
        async with asyncio.timeout(20):
            while True:
                msg = await sub.next_msg(timeout=20)
                event = json.loads(msg.data)
                if event.get("request_event_id") == str(marker) or b"$EVENT" not in body:
                    return dict(event)
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"event_id": "$EVENT", "employee_ids": []}', "company_id: Field required"),
        (b'{"event_id": "$EVENT", "company_id": "not-a-uuid"}', "company_id"),
        (
            b'{"event_id": "$EVENT", "company_id": "00000000-0000-0000-0000-000000000001", "all_employees": true}',
            "unknown company",
        ),
    ],
)
async def test_malformed_requests_are_rejected_with_the_reason(
    running_pipeline: None, settings: Settings, body: bytes, reason: str
) -> None:
    event = await rejection_for(settings, body)
    assert reason in event["reason"]


async def test_unknown_foreign_and_missing_employees_are_rejected(
    running_pipeline: None, settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    company_id, _employees = await make_company(db, employees=EMPLOYEES[:1])
    _other_company, others = await make_company(db, employees=EMPLOYEES[1:2])
    foreign = str(next(iter(others.values())))
    cases = {
        "unknown employee": [str(uuid.uuid4())],
        # Another company's employee is as unknown as one that does not exist: the reason
        # must not tell a caller that the id is real.
        f"unknown employee(s): {foreign}": [foreign],
        "no employees": [],
    }
    for reason, employee_ids in cases.items():
        body = json.dumps({"event_id": "$EVENT", "company_id": str(company_id), "employee_ids": employee_ids})
        event = await rejection_for(settings, body.encode())
        assert reason in event["reason"], (reason, event)
        assert "company" not in event["reason"], event
        assert event["company_id"] == str(company_id)
    # The rejections are in the audit trail, and no job was created for them.
    assert await wait_for(
        db,
        "SELECT count(*) >= 3 FROM cm_agent_handoffs WHERE subject = 'coursegen.job.rejected' AND company_id = $1",
        company_id,
    )
    assert await db.fetchval("SELECT count(*) FROM course_generation_jobs WHERE company_id = $1", company_id) == 0


async def test_invalid_events_on_stage_subjects_are_recorded_once_and_never_retried(
    running_pipeline: None, settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    marker = uuid.uuid4().hex
    garbage = {
        "coursegen.handoff.researcher": f'{{"garbage": "{marker}"}}'.encode(),
        "coursegen.handoff.finalizer": f"not json {marker}".encode(),
        "coursegen.job.cancel": f'{{"job_id": "x{marker}"}}'.encode(),
    }
    for subject, body in garbage.items():
        await publish_raw(settings, subject, body)
    for subject in garbage:
        await wait_for(
            db, "SELECT 1 FROM rejected_messages WHERE subject = $1 AND payload LIKE $2", subject, f"%{marker}%"
        )
    await asyncio.sleep(2.0)  # longer than every retry delay: a retried message would be recorded again
    rows = await db.fetch("SELECT subject, service, reason FROM rejected_messages WHERE payload LIKE $1", f"%{marker}%")
    recorded = [r for r in rows if r["service"] != "tracker"]
    assert sorted(r["subject"] for r in recorded) == sorted(garbage)
    # Both stages' failures reach the audit trail (waiting for both: the tracker records them one by one).
    assert await wait_for(
        db,
        "SELECT count(*) >= 2 FROM cm_agent_handoffs WHERE subject = 'coursegen.stage.failed' "
        "AND handoff_context->>'message' LIKE 'not a valid%'",
    )


async def test_the_bus_keeps_flowing_after_bad_input(
    running_pipeline: None, settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    company_id, _employees = await make_company(db, employees=EMPLOYEES[:1])
    await publish_raw(settings, "coursegen.job.requested", b"\x00\xff garbage")
    job_id = await request_job(settings, company_id)
    job = await wait_for_job(db, job_id)
    assert job["status"] == "completed" and job["successful_courses"] == 1


async def test_a_bare_nats_client_request_produces_courses(
    running_pipeline: None, settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    """Another team publishes job.requested from any language: plain JSON, documented fields, nothing else."""
    company_id, employees = await make_company(db, employees=EMPLOYEES[:2])
    job_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "job_id": job_id,
            "company_id": str(company_id),
            "employee_ids": [str(e) for e in employees.values()],
        }
    )
    assert settings.nats_url
    nc = await nats.connect(settings.nats_url.split(","))
    try:
        await nc.jetstream().publish("coursegen.job.requested", body.encode())
    finally:
        await nc.close()
    job = await wait_for_job(db, uuid.UUID(job_id))
    assert job["status"] == "completed"
    assert await db.fetchval("SELECT count(*) FROM assembled_courses WHERE job_id = $1::uuid", job_id) == 2
