"""Stalls: a run whose handoff was lost is re-driven from its last stored output; a queued run is left alone."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import nats
import pytest

from coursegen.shared.settings import Settings
from coursegen.shared.subjects import SERVICES, STREAM, handoff_subject
from coursegen.stack.seed import EMPLOYEES
from tests.helpers import make_company, pipeline, request_job, wait_for, wait_for_job

pytestmark = pytest.mark.chaos

ALL_BUT_RESEARCHER = [s for s in SERVICES if s != "researcher"]


def stall_settings(settings: Settings) -> Settings:
    # Swept every second; a run with no event for 2 s counts as stalled.
    return settings.model_copy(update={"stall_after_seconds": 2.0})


async def handed_to_researcher(db: asyncpg.Pool[Any], job_id: Any) -> None:
    """Until the planner has handed every module of the plan to the researcher."""
    await wait_for(
        db,
        "SELECT count(*) = max(p.total_modules) FROM cm_agent_handoffs h JOIN cm_course_plans p USING (job_id) "
        "WHERE h.job_id = $1 AND h.to_agent = 'researcher'",
        job_id,
    )


async def agent_runs(db: asyncpg.Pool[Any], job_id: Any, stage: str) -> int:
    runs: int = await db.fetchval(
        "SELECT count(*) FROM agent_runs WHERE job_id = $1 AND stage = $2 AND status = 'succeeded'", job_id, stage
    )
    return runs


async def test_a_run_whose_handoffs_were_lost_is_re_driven(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    stalling = stall_settings(settings)
    company_id, _ = await make_company(db, employees=EMPLOYEES[:1])
    assert settings.nats_url
    nc = await nats.connect(settings.nats_url.split(","))
    try:
        async with pipeline(stalling, ALL_BUT_RESEARCHER):
            job_id = await request_job(settings, company_id)
            await handed_to_researcher(db, job_id)
            # The handoffs to the researcher are lost (a stream that aged out, a disk gone):
            # nothing will ever deliver them, and no stage has anything queued for this run.
            await nc.jetstream().purge_stream(STREAM, subject=handoff_subject("researcher"))
            async with pipeline(stalling, ["researcher"]):
                job = await wait_for_job(db, job_id, timeout=90)
    finally:
        await nc.close()

    assert job["status"] == "completed"
    run = await db.fetchrow("SELECT * FROM course_runs WHERE job_id = $1", job_id)
    assert run["status"] == "completed" and run["epoch"] >= 1, "re-driven under a new epoch"
    # From the last stored output: the plan was not made again.
    assert await agent_runs(db, job_id, "planner") == 1
    modules = await db.fetchval("SELECT total_modules FROM cm_course_plans WHERE session_id = $1", run["session_id"])
    assert await agent_runs(db, job_id, "researcher") == modules


async def test_a_run_queued_behind_a_stopped_stage_is_not_re_driven(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    stalling = stall_settings(settings)
    company_id, _ = await make_company(db, employees=EMPLOYEES[:1])
    async with pipeline(stalling, ALL_BUT_RESEARCHER):
        async with pipeline(stalling, ["researcher"]):
            pass  # the researcher's durable consumer exists: what is published for it now queues there
        job_id = await request_job(settings, company_id)
        await handed_to_researcher(db, job_id)
        # Several sweeps' worth of silence, with the handoffs queued at the stopped researcher.
        await asyncio.sleep(3 * stalling.stall_after_seconds)
        run = await db.fetchrow("SELECT * FROM course_runs WHERE job_id = $1", job_id)
        assert run["epoch"] == 0, "a queued run was re-driven"
        async with pipeline(stalling, ["researcher"]):
            job = await wait_for_job(db, job_id, timeout=90)

    assert job["status"] == "completed"
    run = await db.fetchrow("SELECT * FROM course_runs WHERE job_id = $1", job_id)
    assert run["epoch"] == 0
    modules = await db.fetchval("SELECT total_modules FROM cm_course_plans WHERE session_id = $1", run["session_id"])
    assert await agent_runs(db, job_id, "researcher") == modules
