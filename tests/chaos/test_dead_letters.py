"""A worker that never answers: the server gives up on the message, and the dead-letter path says so."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from coursegen.shared.settings import Settings
from coursegen.shared.subjects import ADVISORY_STREAM, STREAM, durable_name, handoff_subject
from coursegen.stack.seed import EMPLOYEES
from tests.helpers import make_company, pipeline, request_job, wait_for_job

pytestmark = pytest.mark.chaos


async def test_max_deliveries_advisory_fails_the_run_with_its_error(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    assert settings.nats_url
    nc = await nats.connect(settings.nats_url.split(","))
    js = nc.jetstream()

    async def swallow() -> None:
        # Keep a pull waiting at all times: the server notices a message ran out of
        # deliveries when it next tries to hand it out. A failed fetch (a timeout, a
        # 408/409 status under load) must not end the loop.
        while True:
            try:
                await probe.fetch(10, timeout=0.5)
            except asyncio.CancelledError:
                raise
            except Exception:  # any failed pull: pull again
                await asyncio.sleep(0.05)

    try:
        async with pipeline(settings, ["coordinator", "planner", "tracker"]):
            # A researcher that takes its messages and dies on them every time (here: never acks),
            # on the researcher's own durable consumer: its dead letters are the ones that fail runs.
            probe = await js.pull_subscribe(
                handoff_subject("researcher"),
                durable=durable_name("researcher"),
                stream=STREAM,
                # Only this job's messages: earlier tests' handoffs are still in the stream.
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT, ack_wait=1, max_deliver=2, deliver_policy=DeliverPolicy.NEW
                ),
            )
            job_id = await request_job(settings, company_id)
            swallower = asyncio.create_task(swallow())
            try:
                job = await wait_for_job(db, job_id, timeout=60)
            except AssertionError as exc:
                # Say where the dead letter got stuck: never run out of deliveries, or its advisory unhandled.
                probe_info = await js.consumer_info(STREAM, durable_name("researcher"))
                advisories = await js.stream_info(ADVISORY_STREAM)
                raise AssertionError(
                    f"{exc}\nprobe: delivered={probe_info.delivered} ack_pending={probe_info.num_ack_pending} "
                    f"redelivered={probe_info.num_redelivered}; advisories stored={advisories.state.messages}; "
                    f"swallower done={swallower.done()}"
                ) from None
            finally:
                swallower.cancel()
    finally:
        with contextlib.suppress(Exception):
            await js.delete_consumer(STREAM, durable_name("researcher"))
        await nc.close()

    assert job["status"] == "completed_with_errors"
    assert job["failed_employee_ids"] == list(employees.values())
    run = await db.fetchrow("SELECT * FROM course_runs WHERE job_id = $1", job_id)
    assert run["status"] == "failed" and run["error_kind"] == "max_deliveries"
    assert run["error_stage"] == "researcher" and run["error_attempts"] == 2
    assert durable_name("researcher") in run["error_message"]
    failed = await db.fetchval(
        "SELECT count(*) FROM cm_agent_handoffs WHERE subject = 'coursegen.stage.failed' AND session_id = $1 "
        "AND handoff_context->>'kind' = 'max_deliveries'",
        run["session_id"],
    )
    assert failed >= 1
