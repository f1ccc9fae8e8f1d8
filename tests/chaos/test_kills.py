"""SIGKILL stage replicas again and again in the middle of a job: every course completes, nothing twice."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from coursegen.shared.settings import Settings
from coursegen.shared.store.measurements import ARTIFACT_KEYS
from coursegen.shared.subjects import STAGES
from coursegen.stack.seed import EMPLOYEES
from coursegen.stack.supervisor import Stack
from tests.helpers import make_company, request_job, wait_for_job

pytestmark = pytest.mark.chaos

KILLS = 20


def many_employees(copies: int) -> tuple[Any, ...]:
    return tuple(replace(e, name=f"{e.name} {i}", email=f"{i}.{e.email}") for i in range(copies) for e in EMPLOYEES)


def outage_settings(**servers: object) -> Settings:
    """Settings that ride out a server outage of a few seconds: short ack wait, many deliveries."""
    return Settings(
        **servers,  # type: ignore[arg-type]
        ack_wait_seconds=6,
        max_deliveries=20,
        retry_base_delay_seconds=0.3,
        retry_max_delay_seconds=2,
        offline_latency_seconds=0.05,
    )


async def assert_nothing_twice(db: asyncpg.Pool[Any], job_id: Any) -> None:
    for table, columns in ARTIFACT_KEYS.items():
        key = ", ".join(columns)
        twice = await db.fetchval(
            f"SELECT count(*) FROM (SELECT {key} FROM {table} WHERE job_id = $1 GROUP BY {key} HAVING count(*) > 1) d",
            job_id,
        )
        assert twice == 0, f"{table} has a row twice"
    twice = await db.fetchval(
        """
        SELECT count(*) FROM (
            SELECT subject, session_id, module_index, revision, handoff_context->>'epoch'
              FROM cm_agent_handoffs WHERE job_id = $1
             GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1 AND bool_and(subject LIKE 'coursegen.handoff.%')
        ) d
        """,
        job_id,
    )
    assert twice == 0, "a handoff is recorded twice"
    rerun = await db.fetchrow(
        "SELECT count(*) AS runs, coalesce(sum(input_tokens + output_tokens), 0) AS tokens FROM agent_runs "
        "WHERE job_id = $1 AND status = 'discarded'",
        job_id,
    )
    assert rerun["runs"] == 0, f"finished stages ran again: {rerun['tokens']} tokens spent twice"
    units = await db.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM agent_runs WHERE job_id = $1 AND status = 'succeeded' "
        "GROUP BY session_id, stage, module_index, revision HAVING count(*) > 1) d",
        job_id,
    )
    assert units == 0


HANDED_A_MODULE = ("researcher", "content", "quality", "enhancer", "multimedia", "finalizer")
"""The stages every planned module is handed to, at least once."""


async def assert_every_event_recorded(db: asyncpg.Pool[Any], job_id: Any) -> None:
    """The tracker's log has every handoff of the job: each run's to the planner, each module's to each
    stage after it, and each run's ``course.ready`` (it may trail the job's completion by a moment)."""
    expected = await db.fetchrow(
        "SELECT count(*) AS runs, coalesce(sum(modules_total), 0) AS modules FROM course_runs WHERE job_id = $1",
        job_id,
    )
    query = """
        SELECT count(DISTINCT session_id) FILTER (WHERE subject = 'coursegen.handoff.planner') AS planned,
               count(DISTINCT (session_id, module_index, to_agent))
                   FILTER (WHERE subject LIKE 'coursegen.handoff.%' AND to_agent = ANY($2::text[])) AS steps,
               count(DISTINCT session_id) FILTER (WHERE subject = 'coursegen.course.ready') AS ready
          FROM cm_agent_handoffs WHERE job_id = $1"""
    want = (expected["runs"], expected["modules"] * len(HANDED_A_MODULE), expected["runs"])
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        row = await db.fetchrow(query, job_id, list(HANDED_A_MODULE))
        seen = (row["planned"], row["steps"], row["ready"])
        if seen == want or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.5)
    assert seen == want, f"(planner handoffs, module handoffs, course.ready) recorded {seen}, expected {want}"


async def test_killing_stage_replicas_mid_job_loses_nothing(
    settings: Settings, db: asyncpg.Pool[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Service processes read their settings from the environment.
    monkeypatch.setenv("COURSEGEN_ACK_WAIT_SECONDS", "4")
    monkeypatch.setenv("COURSEGEN_MAX_DELIVERIES", "30")
    monkeypatch.setenv("COURSEGEN_RETRY_BASE_DELAY_SECONDS", "0.2")
    monkeypatch.setenv("COURSEGEN_RETRY_MAX_DELAY_SECONDS", "1")
    monkeypatch.setenv("COURSEGEN_OFFLINE_LATENCY_SECONDS", "0.15")
    company_id, employees = await make_company(db, employees=many_employees(4))
    stack = Stack(
        settings=settings.model_copy(
            update={"data_dir": tmp_path, "ack_wait_seconds": 4, "max_deliveries": 30, "offline_latency_seconds": 0.15}
        )
    )
    rng = random.Random(7)
    with stack:
        stack.start_services({stage: 2 for stage in STAGES})
        await asyncio.to_thread(stack.wait_ready, 180)
        job_id = await request_job(settings, company_id)
        kills = 0
        started = time.monotonic()
        while kills < KILLS and time.monotonic() - started < 240:
            await asyncio.sleep(rng.uniform(0.3, 0.9))
            status = await db.fetchval("SELECT status FROM course_generation_jobs WHERE job_id = $1", job_id)
            if status not in (None, "pending", "running"):
                break
            victim = rng.choice(STAGES)
            index = rng.randrange(2)
            await asyncio.to_thread(stack.kill, victim, index)
            await asyncio.to_thread(stack.restart, victim, index)
            kills += 1
        job = await wait_for_job(db, job_id, timeout=300)
        assert not stack.crashed(), "only killed processes may stop"
    assert kills >= KILLS, f"the job finished after {kills} kills; make it longer"
    assert job["status"] == "completed", job
    assert await db.fetchval("SELECT count(*) FROM assembled_courses WHERE job_id = $1", job_id) == len(employees)
    await assert_nothing_twice(db, job_id)
    await assert_every_event_recorded(db, job_id)
