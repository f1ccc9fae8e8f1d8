"""Scaling a stage is starting more of it: replicas share its durable consumer and split the work."""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg

from coursegen.shared.service import running
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import SERVICES
from tests.helpers import make_company, pipeline, request_job, service_definition, wait_for_job


async def test_two_researcher_replicas_share_the_work_once(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, _employees = await make_company(db)
    others = [s for s in SERVICES if s != "researcher"]
    async with pipeline(settings, others), contextlib.AsyncExitStack() as replicas:
        for _ in range(2):
            await replicas.enter_async_context(running(service_definition("researcher"), settings))
        job_id = await request_job(settings, company_id)
        job = await wait_for_job(db, job_id)
    assert job["status"] == "completed"
    runs = await db.fetch(
        "SELECT worker, session_id, module_index FROM agent_runs WHERE job_id = $1 AND stage = 'researcher'", job_id
    )
    modules = await db.fetchval("SELECT sum(total_modules) FROM cm_course_plans WHERE job_id = $1", job_id)
    assert len(runs) == modules, "each module researched exactly once"
    assert len({r["worker"] for r in runs}) == 2, "both replicas took work"
