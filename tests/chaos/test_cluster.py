"""A three-node JetStream cluster, the stream replicated three times; a node killed mid-job."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest

from coursegen.shared.settings import Settings
from coursegen.shared.subjects import STREAM
from coursegen.stack.embedded import EmbeddedNatsCluster
from tests.chaos.test_kills import assert_every_event_recorded, assert_nothing_twice, many_employees, outage_settings
from tests.helpers import make_company, pipeline, request_job, wait_for, wait_for_job

pytestmark = pytest.mark.chaos


async def stream_leader(url: str) -> str:
    nc = await nats.connect(url.split(","))
    try:
        info = await nc.jetstream().stream_info(STREAM)
        assert info.cluster is not None and len(info.cluster.replicas or []) == 2, "three replicas"
        return str(info.cluster.leader)
    finally:
        await nc.close()


async def test_a_job_survives_losing_a_cluster_node(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    cluster = EmbeddedNatsCluster(Path(tempfile.mkdtemp(prefix="coursegen-cluster-"))).start()
    clustered = outage_settings(
        nats_url=cluster.url, database_url=settings.database_url, data_dir=settings.data_dir, stream_replicas=3
    )
    try:
        company_id, employees = await make_company(db, employees=many_employees(2))
        async with pipeline(clustered):
            job_id = await request_job(clustered, company_id)
            await wait_for(db, "SELECT count(*) >= 3 FROM research_findings WHERE job_id = $1", job_id)
            # Kill the node that leads the stream: the hardest case (an election, 5-7 s without a leader).
            leader = await stream_leader(cluster.url)
            victim = next(n for n in cluster.nodes if n.store_dir.name == leader)
            await asyncio.to_thread(victim.kill)
            job = await wait_for_job(db, job_id, timeout=150)
        assert job["status"] == "completed", job
        assert await db.fetchval("SELECT count(*) FROM assembled_courses WHERE job_id = $1", job_id) == len(employees)
        await assert_nothing_twice(db, job_id)
        await assert_every_event_recorded(db, job_id)
    finally:
        cluster.stop()
