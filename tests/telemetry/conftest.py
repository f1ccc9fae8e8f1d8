"""One job through the services as separate processes, exporting spans to a receiver of the test's own.

The run happens once for the whole package; each test file asserts on a
different side of it (traces, privacy, metrics, the ``trace`` command).
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from coursegen.shared.settings import Settings
from coursegen.shared.store import connect
from coursegen.stack.seed import EMPLOYEES
from coursegen.stack.supervisor import Stack
from tests.helpers import make_company, request_job, wait_for_job
from tests.telemetry.otlp_receiver import ExportedSpan, OtlpReceiver

MARKER = "Zqx-Private-7731"
"""Planted in the employees' names and profiles: it must not reach a span or a log line."""


@dataclass
class TracedRun:
    job_id: uuid.UUID
    job: dict[str, Any]
    sessions: dict[str, uuid.UUID]
    """session_id → employee_id of each course run."""
    spans: list[ExportedSpan]
    receiver: OtlpReceiver
    logs: dict[str, str]
    """Each service process's output (JSON lines)."""
    metrics_before: dict[str, float]
    metrics_after: dict[str, float]
    database_url: str


def metric_samples(port: int) -> dict[str, float]:
    """``name{label="v",...}`` → value of every sample a ``/metrics`` endpoint serves."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free ports (the supervisor counts up from it)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + count < 65000 and all(_free(p) for p in range(base, base + count)):
            return base
    raise RuntimeError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def traced_run(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TracedRun]:
    assert settings.database_url and settings.nats_url
    receiver = OtlpReceiver().start()
    data_dir = Path(tmp_path_factory.mktemp("traced"))
    stack_settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        nats_url=settings.nats_url,
        nats_passwords_file=settings.nats_passwords_file,
        database_url=settings.database_url,
        migrate_database_url=settings.migrate_database_url,
        data_dir=data_dir,
        metrics_port=free_port_run(12),
    )
    db = await connect(settings.database_url)
    try:
        with pytest.MonkeyPatch.context() as env:
            # What the service processes inherit.
            env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
            env.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
            env.delenv("OTEL_TRACES_EXPORTER", raising=False)
            env.delenv("OPENAI_AGENTS_DISABLE_TRACING", raising=False)
            env.setenv("COURSEGEN_LOG_LEVEL", "INFO")
            stack = Stack(stack_settings)
            stack.start()
            try:
                stack.start_services()
                await asyncio.to_thread(stack.wait_ready, 120)
                company_id, _ = await make_company(db, employees=EMPLOYEES[:2])
                await db.execute(
                    "UPDATE employees SET full_name = full_name || ' ' || $2::text,"
                    " profile = profile || jsonb_build_object('private_note', $2::text) WHERE company_id = $1",
                    company_id,
                    MARKER,
                )
                planner_port = stack.process("planner").metrics_port
                assert planner_port is not None
                before = await asyncio.to_thread(metric_samples, planner_port)
                job_id = await request_job(settings, company_id)
                job = await wait_for_job(db, job_id, timeout=90)
                after = await asyncio.to_thread(metric_samples, planner_port)
            finally:
                # SIGTERM: each service flushes its spans on the way out.
                await asyncio.to_thread(stack.stop)
        logs = {p.label: p.output() for p in stack.processes}
        sessions = {
            r["session_id"]: r["employee_id"]
            for r in await db.fetch("SELECT session_id, employee_id FROM course_runs WHERE job_id = $1", job_id)
        }
        yield TracedRun(
            job_id=job_id,
            job=job,
            sessions=sessions,
            spans=receiver.spans(),
            receiver=receiver,
            logs=logs,
            metrics_before=before,
            metrics_after=after,
            database_url=settings.database_url,
        )
    finally:
        await db.close()
        receiver.stop()
