"""Restart nats-server, or PostgreSQL, in the middle of a job: the services reconnect and the job completes."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coursegen.shared.settings import Settings
from coursegen.shared.store import connect
from coursegen.stack.embedded import EmbeddedNats, EmbeddedPostgres
from coursegen.stack.migrate import migrate
from tests.chaos.test_kills import assert_every_event_recorded, assert_nothing_twice, many_employees, outage_settings
from tests.helpers import make_company, pipeline, request_job, wait_for, wait_for_job

pytestmark = pytest.mark.chaos


@pytest.fixture
def servers() -> Iterator[tuple[EmbeddedNats, EmbeddedPostgres, Settings]]:
    """Servers of this test's own: restarting the session's would disturb other tests."""
    root = Path(tempfile.mkdtemp(prefix="coursegen-restart-"))
    nats = EmbeddedNats(root / "nats").start()
    postgres = EmbeddedPostgres(root / "postgres").start()
    migrate(postgres.owner_url)
    settings = outage_settings(nats_url=nats.url, database_url=postgres.url, data_dir=root)
    try:
        yield nats, postgres, settings
    finally:
        nats.stop()
        postgres.destroy()


async def run_with_restart(settings: Settings, restart: Any, *, timeout: float = 120) -> None:
    assert settings.database_url
    db = await connect(settings.database_url)
    try:
        company_id, employees = await make_company(db, employees=many_employees(2))
    finally:
        await db.close()
    async with pipeline(settings):
        job_id = await request_job(settings, company_id)
        db = await connect(settings.database_url)
        try:
            await wait_for(db, "SELECT count(*) >= 3 FROM research_findings WHERE job_id = $1", job_id)
        finally:
            await db.close()
        await asyncio.to_thread(restart)
        db = await connect(settings.database_url)
        try:
            job = await wait_for_job(db, job_id, timeout=timeout)
            assert job["status"] == "completed", job
            assert await db.fetchval("SELECT count(*) FROM assembled_courses WHERE job_id = $1", job_id) == len(
                employees
            )
            await assert_nothing_twice(db, job_id)
            await assert_every_event_recorded(db, job_id)
        finally:
            await db.close()


def _bounce(server: EmbeddedNats | EmbeddedPostgres, down_for: float) -> None:
    import time

    server.stop()
    time.sleep(down_for)
    server.start()


async def test_nats_restart_mid_job(servers: tuple[EmbeddedNats, EmbeddedPostgres, Settings]) -> None:
    nats, _, settings = servers
    await run_with_restart(settings, lambda: _bounce(nats, 2.0))


async def test_postgres_restart_mid_job(servers: tuple[EmbeddedNats, EmbeddedPostgres, Settings]) -> None:
    _, postgres, settings = servers
    await run_with_restart(settings, lambda: _bounce(postgres, 2.0))
