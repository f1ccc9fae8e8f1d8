"""The local stack without the pipeline: embedded servers, migrations, clean stops, submitting and following."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import psutil
import pytest
from rich.console import Console

from coursegen.shared.events import JobRequested
from coursegen.shared.settings import Settings
from coursegen.shared.store import connect
from coursegen.shared.subjects import ALL, JOB_REJECTED, JOB_REQUESTED, SERVICES, STREAM
from coursegen.stack.follow import SubmitError, follow_job, submit_job
from coursegen.stack.supervisor import Stack, StackError
from tests.gateway.conftest import free_port

pytestmark = pytest.mark.timeout(180)


def embedded_settings(data_dir: Path) -> Settings:
    # Explicit None: a COURSEGEN_*_URL in the developer's shell must not point the test at their servers.
    return Settings(_env_file=None, nats_url=None, database_url=None, data_dir=data_dir)  # type: ignore[call-arg]


def plain_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=200), buffer


async def fetch(url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    db = await connect(url, min_size=1, max_size=1)
    try:
        return [dict(r) for r in await db.fetch(query, *args)]
    finally:
        await db.close()


def test_stack_starts_migrates_and_stops_everything(tmp_path: Path) -> None:
    with Stack(embedded_settings(tmp_path)) as stack:
        assert stack.nats is not None and stack.postgres is not None
        # What the stack hands out is the client user's URL, never the operator's.
        assert stack.nats_url.startswith("nats://client:")
        nats_process = stack.nats.process
        assert nats_process is not None and nats_process.poll() is None
        pid_file = stack.postgres.pgdata / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        assert psutil.pid_exists(postmaster)

        versions = asyncio.run(fetch(stack.database_url, "SELECT version FROM schema_migrations"))
        assert versions, "migrate did not record any migration"
        tables = asyncio.run(fetch(stack.database_url, "SELECT to_regclass('course_generation_jobs') AS t"))
        assert tables[0]["t"] is not None

    assert nats_process.poll() is not None, "nats-server is still running"
    assert not pid_file.exists(), "PostgreSQL did not shut down (postmaster.pid left)"
    assert not psutil.pid_exists(postmaster) or psutil.Process(postmaster).status() == psutil.STATUS_ZOMBIE


def test_a_second_run_reuses_the_data_dir(tmp_path: Path) -> None:
    with Stack(embedded_settings(tmp_path)) as first:
        assert first.postgres is not None  # the schema is the owner role's to change
        asyncio.run(fetch(first.postgres.owner_url, "CREATE TABLE kept_between_runs (x int)"))
        ports = json.loads((tmp_path / "ports.json").read_text())

    with Stack(embedded_settings(tmp_path)) as second:
        assert "Applying" not in second.migrations_output  # already migrated
        rows = asyncio.run(fetch(second.database_url, "SELECT to_regclass('kept_between_runs') AS t"))
        assert rows[0]["t"] is not None
        # Same ports when free, so URLs printed by the first run still work.
        assert second.postgres is not None and second.postgres.port == ports["postgres"]


def test_two_stacks_cannot_share_a_data_dir(tmp_path: Path) -> None:
    with Stack(embedded_settings(tmp_path)), pytest.raises(StackError, match="another coursegen stack"):
        Stack(embedded_settings(tmp_path)).start()


def test_unknown_service_in_replicas(tmp_path: Path) -> None:
    stack = Stack(embedded_settings(tmp_path))
    with pytest.raises(ValueError, match="unknown service 'writer'"):
        stack.start_services({"writer": 2})


# --- submitting and following, against the embedded servers with no services running --------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(embedded_settings(tmp_path_factory.mktemp("stack"))) as running:
        yield running


async def make_company(url: str, employees: list[str]) -> tuple[uuid.UUID, list[uuid.UUID]]:
    db = await connect(url, min_size=1, max_size=1)
    try:
        company = await db.fetchval(
            "INSERT INTO companies (name, slug) VALUES ('Test Co', $1) RETURNING id", f"t-{uuid.uuid4().hex[:8]}"
        )
        ids = [
            await db.fetchval(
                "INSERT INTO employees (company_id, full_name) VALUES ($1, $2) RETURNING id", company, name
            )
            for name in employees
        ]
        return company, ids
    finally:
        await db.close()


def test_submit_without_a_stream_says_to_start_the_services(stack: Stack) -> None:
    with pytest.raises(SubmitError, match="no COURSEGEN stream"):
        asyncio.run(submit_job(stack.nats_url, uuid.uuid4(), None, timeout=2))


def test_submit_publishes_a_job_request_with_its_event_id(stack: Stack) -> None:
    async def scenario() -> tuple[JobRequested, uuid.UUID, Any]:
        assert stack.nats is not None
        nc = await nats.connect(stack.nats.url_as("admin"))  # the stream is the operator's to make
        try:
            js = nc.jetstream()
            await js.add_stream(name=STREAM, subjects=[ALL])
            company = uuid.uuid4()
            employee = uuid.uuid4()
            event, job_id = await submit_job(stack.nats_url, company, [employee], token_budget=5000)
            sub = await js.pull_subscribe(JOB_REQUESTED, durable=None, stream=STREAM)
            [msg] = await sub.fetch(1, timeout=5)
            await js.delete_stream(STREAM)
            return event, job_id, msg
        finally:
            await nc.close()

    event, job_id, msg = asyncio.run(scenario())

    assert msg.headers["Nats-Msg-Id"] == str(event.event_id)
    published = JobRequested.model_validate_json(msg.data)
    assert published.job_id == job_id == event.job_id
    assert published.all_employees is False and published.employee_ids == event.employee_ids
    assert published.token_budget == 5000


def test_follow_reports_a_completed_job(stack: Stack) -> None:
    url = stack.database_url

    async def scenario() -> Any:
        company, (ada, bob) = await make_company(url, ["Ada", "Bob"])
        job = uuid.uuid4()
        db = await connect(url, min_size=1, max_size=1)
        try:
            await db.execute(
                "INSERT INTO course_generation_jobs (job_id, company_id, total_employees, status, progress_percentage,"
                " successful_courses, failed_courses) VALUES ($1, $2, 2, 'completed_with_errors', 100, 1, 1)",
                job,
                company,
            )
            for employee, status in ((ada, "completed"), (bob, "failed")):
                await db.execute(
                    "INSERT INTO course_runs (session_id, job_id, company_id, employee_id, status, modules_total,"
                    " modules_done, progress_percentage, error_stage, error_kind, error_message)"
                    " VALUES ($1, $2, $3, $4, $5, 3, 3, 100, $6, $7, $8)",
                    f"{job}:{employee}",
                    job,
                    company,
                    employee,
                    status,
                    "content" if status == "failed" else None,
                    "agent_error" if status == "failed" else None,
                    "model refused" if status == "failed" else None,
                )
            await db.execute(
                "INSERT INTO assembled_courses (session_id, job_id, company_id, employee_id, title, total_modules,"
                " word_count, course, markdown) VALUES ($1, $2, $3, $4, 'SQL', 3, 900, '{}'::jsonb, '# SQL')",
                f"{job}:{ada}",
                job,
                company,
                ada,
            )
            for _ in range(4):
                await db.execute(
                    "INSERT INTO cm_agent_handoffs (event_id, subject, job_id, from_agent, to_agent)"
                    " VALUES ($1, 'coursegen.handoff.x', $2, 'a', 'b')",
                    uuid.uuid4(),
                    job,
                )
        finally:
            await db.close()
        console, buffer = plain_console()
        summary = await follow_job(url, job, console=console, timeout=10)
        return summary, buffer.getvalue(), bob

    summary, output, bob = asyncio.run(scenario())

    assert summary.status == "completed_with_errors" and not summary.timed_out
    assert (summary.employees, summary.courses, summary.modules, summary.handoffs) == (2, 1, 3, 4)
    assert not summary.complete
    [failed] = summary.failed
    assert (failed.employee_id, failed.employee_name, failed.stage, failed.message) == (
        bob,
        "Bob",
        "content",
        "model refused",
    )
    assert "completed_with_errors 100%" in output
    assert "Bob: failed at content: model refused" in output


def test_follow_reports_a_rejection(stack: Stack) -> None:
    url = stack.database_url
    request_event_id = uuid.uuid4()
    job = uuid.uuid4()

    async def scenario() -> Any:
        db = await connect(url, min_size=1, max_size=1)
        try:
            await db.execute(
                "INSERT INTO cm_agent_handoffs (event_id, subject, from_agent, to_agent, handoff_context, success)"
                " VALUES ($1, $2, 'coordinator', 'client', $3, false)",
                uuid.uuid4(),
                JOB_REJECTED,
                {"request_event_id": str(request_event_id), "reason": "unknown company"},
            )
        finally:
            await db.close()
        console, _ = plain_console()
        return await follow_job(url, job, console=console, timeout=10, request_event_id=request_event_id)

    summary = asyncio.run(scenario())

    assert summary.status == "rejected"
    assert summary.rejection_reason == "unknown company"
    assert not summary.timed_out


def test_follow_gives_up_at_the_timeout(stack: Stack) -> None:
    console, output = plain_console()

    summary = asyncio.run(follow_job(stack.database_url, uuid.uuid4(), console=console, timeout=1))

    assert summary.timed_out and summary.status == "unknown"
    assert "waiting for the coordinator" in output.getvalue()


def test_follow_stops_when_asked(stack: Stack) -> None:
    console, _ = plain_console()

    summary = asyncio.run(
        follow_job(stack.database_url, uuid.uuid4(), console=console, timeout=30, stop_when=lambda: "planner-0 exited")
    )

    assert summary.stopped_reason == "planner-0 exited" and not summary.timed_out


async def consumer_names(nats_url: str) -> list[str]:
    nc = await nats.connect(nats_url)
    try:
        return [info.name for info in await nc.jetstream().consumers_info(STREAM)]
    finally:
        await nc.close()


def test_service_processes_are_supervised(tmp_path: Path) -> None:
    """One real service (the tracker) as a subprocess: ready, killed, restarted, stopped."""
    only_tracker = {name: 0 for name in SERVICES if name != "tracker"}
    with Stack(embedded_settings(tmp_path)) as stack:
        [first] = stack.start_services(only_tracker)
        stack.wait_ready(timeout=60)
        assert first.ready and first.log_path == tmp_path / "logs" / "tracker-0.log"
        # Ready means consuming: the service's durable consumer exists on the stream.
        assert stack.nats is not None
        assert "coursegen-tracker" in asyncio.run(consumer_names(stack.nats.url_as("admin")))

        stack.kill("tracker", 0)
        assert first.returncode is not None
        assert stack.crashed() == []  # killed on purpose, not a crash

        second = stack.restart("tracker", 0)
        assert second.pid != first.pid and not second.ready
        stack.wait_ready(timeout=60)
        assert "tracker is up" in second.output()

        second.popen.kill()  # a crash the supervisor did not ask for
        second.popen.wait()
        assert stack.crashed() == [second]
        with pytest.raises(StackError, match="tracker-0 exited with code -9"):
            stack.wait_ready(timeout=5)
        third = stack.restart("tracker", 0)
        stack.wait_ready(timeout=60)

    assert third.returncode == 0, third.log_tail()  # SIGTERM: a graceful stop
    assert all(p.returncode is not None for p in stack.processes)


def test_a_service_that_cannot_connect_still_stops_on_sigterm(tmp_path: Path) -> None:
    """FastStream reads its exit flag only after startup; ``coursegen service`` cancels a start that hangs."""
    env = {
        **os.environ,
        "COURSEGEN_NATS_URL": "nats://127.0.0.1:1",  # nothing listens there: startup keeps retrying
        "COURSEGEN_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
    }
    log = tmp_path / "tracker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "coursegen.cli.main", "service", "tracker"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        # Wait until it is retrying its connection: the signal must land in the start, not before it.
        while "Connect call failed" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        assert "Connect call failed" in log.read_text(), log.read_text()[-2000:]
        assert proc.poll() is None, log.read_text()[-2000:]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped while starting" in log.read_text()


def leftovers(data_dir: Path) -> list[str]:
    """Processes still running out of ``data_dir`` (servers and services of a stack)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmdline and proc.pid != os.getpid():
            found.append(f"{proc.pid}: {cmdline[:200]}")
    return found


def repeated_sigterm(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM after SIGTERM for the first 20 ms of the stop (which takes seconds)."""
    deadline = time.monotonic() + 0.02
    while time.monotonic() < deadline:
        proc.send_signal(signal.SIGTERM)


@pytest.mark.parametrize(
    "stop",
    [
        # A terminal's Ctrl-C: SIGINT to the whole foreground process group, services included.
        pytest.param(lambda p: os.killpg(p.pid, signal.SIGINT), id="ctrl-c"),
        # More signals while it stops: `uv run` passes on a SIGTERM that `timeout` or systemd also sent
        # to the group, an impatient user presses Ctrl-C again. None may cut the clean-up short.
        pytest.param(repeated_sigterm, id="sigterm-again-and-again"),
    ],
)
def test_up_stops_services_and_servers_on_a_stop_signal(tmp_path: Path, stop: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEGEN_")}
    data_dir = tmp_path / "stack"
    log = tmp_path / "up.log"
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "coursegen.cli.main", "up", "--data-dir", str(data_dir), "--port", str(port)],
            env={**env, "COLUMNS": "200"},
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        assert leftovers(data_dir), "nothing was running to stop"
        # The app is where it says, on the port asked for.
        assert f"http://127.0.0.1:{port}" in log.read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=30).status_code == 200
        stop(proc)
        assert proc.wait(timeout=90) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        left = leftovers(data_dir)
        for pid in (int(line.split(":", 1)[0]) for line in left):
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
    assert "stopped: the services and servers are down" in log.read_text()
    assert left == []
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
