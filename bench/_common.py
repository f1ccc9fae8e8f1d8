"""What the benchmarks share: a company of N employees, a job, memory sampling and CPU accounting."""

from __future__ import annotations

import asyncio
import functools
import os
import statistics
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from coursegen.shared.events import JobRequested
from coursegen.shared.store import Database, connect
from coursegen.shared.store import bench as bench_store
from coursegen.shared.store.reports import TERMINAL_JOB_STATUSES, JobRef, find_job
from coursegen.shared.subjects import JOB_REQUESTED
from coursegen.stack.follow import publish_event
from coursegen.stack.seed import EMPLOYEES, ROLES, seed_knowledge_base
from coursegen.stack.supervisor import Stack, interrupt_on_stop_signals

TERMINAL = ("completed", "completed_with_errors", "failed", "cancelled")


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a benchmark; Ctrl-C or SIGTERM stops its stack (services and servers) before it exits."""
    with interrupt_on_stop_signals():
        try:
            asyncio.run(main)
        except KeyboardInterrupt:
            print("interrupted; the stack is stopped")


def parse_replicas(values: list[str]) -> dict[str, int]:
    replicas: dict[str, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        replicas[name] = int(count)
    return replicas


def bench_employees(count: int) -> list[bench_store.BenchEmployee]:
    """``count`` employees, cycling through the demo company's three profiles (names and emails numbered)."""
    return [
        bench_store.BenchEmployee(
            name=f"{e.name} {i}",
            email=f"{i}.{e.email}",
            department=e.department,
            role=e.role,
            target_role=e.target_role,
            skills=e.skills,
        )
        for i in range(-(-count // len(EMPLOYEES)))
        for e in EMPLOYEES
    ][:count]


async def seed(database_url: str, employees: int) -> uuid.UUID:
    """A new company of ``employees`` employees (each table in one statement) and the demo knowledge base."""
    pool = await connect(database_url)
    try:
        slug = f"bench-{uuid.uuid4().hex[:8]}"
        async with Database(pool).transaction() as conn:
            company_id = await bench_store.seed_company_bulk(
                conn, name=slug, slug=slug, roles=ROLES, employees=bench_employees(employees)
            )
        await seed_knowledge_base(Database(pool), company_id)
    finally:
        await pool.close()
    return company_id


async def submit(nats_url: str, company_id: uuid.UUID) -> uuid.UUID:
    """Ask for a job as any client would (the stack's URL is the ``client`` user's)."""
    job_id = uuid.uuid4()
    event = JobRequested(job_id=job_id, company_id=company_id, all_employees=True)
    await publish_event(nats_url, JOB_REQUESTED, event.model_dump_json().encode(), str(event.event_id))
    return job_id


class MemorySampler:
    """Peak resident memory per service, over all its replicas and restarts."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            for proc in list(self.stack.processes):
                try:
                    rss = psutil.Process(proc.pid).memory_info().rss
                except psutil.Error:
                    continue
                self.peak[proc.name] = max(self.peak.get(proc.name, 0), rss)
            await asyncio.sleep(0.2)

    def __enter__(self) -> MemorySampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def wait_for_job(database_url: str, job_id: uuid.UUID, timeout: float) -> JobRef:
    db = Database(await connect(database_url))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with db.connection() as conn:
                job = await find_job(conn, job_id)
            if job is not None and job.status in TERMINAL_JOB_STATUSES:
                return job
            await asyncio.sleep(0.25)
        raise TimeoutError(f"job {job_id} did not end within {timeout:.0f} s")
    finally:
        await db.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def wait_for_job_status(
    database_url: str, company_id: uuid.UUID, job_id: uuid.UUID, timeout: float
) -> tuple[str, float]:
    """Wait until the job is terminal; returns its status and when it was seen so (``time.monotonic()``)."""
    pool = await connect(database_url, min_size=1, max_size=1)
    try:
        deadline = time.monotonic() + timeout
        async with Database(pool).connection() as conn:
            while time.monotonic() < deadline:
                status = await bench_store.job_status(conn, company_id, job_id)
                if status in TERMINAL:
                    return status, time.monotonic()
                await asyncio.sleep(0.1)
        raise TimeoutError(f"job {job_id} did not end within {timeout:.0f} s")
    finally:
        await pool.close()


# --- CPU accounting ----------------------------------------------------------------------------------


def tree_cpu_seconds(pid: int) -> float:
    """CPU (user + system) of a process and all its descendants, counting children already reaped.

    A PostgreSQL backend that ended is in the postmaster's ``children_*`` times; one
    that still runs is counted on its own: either way every backend counts once.
    """
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def postmaster_pid(postgres_data_dir: Path) -> int | None:
    try:
        return int((postgres_data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def stack_pid_groups(stack: Stack) -> dict[str, Callable[[], list[int]]]:
    """The stack's processes by kind: each service (all replicas), ``postgres`` and ``nats-server``."""
    groups: dict[str, Callable[[], list[int]]] = {}
    for name in sorted({p.name for p in stack.processes}):
        groups[name] = functools.partial(_service_pids, stack, name)
    if stack.postgres is not None:
        data_dir = stack.postgres.data_dir
        groups["postgres"] = lambda: [pid for pid in [postmaster_pid(data_dir)] if pid is not None]
    if stack.nats is not None and stack.nats.process is not None:
        nats_pid = stack.nats.process.pid
        groups["nats-server"] = lambda: [nats_pid]
    return groups


def _service_pids(stack: Stack, name: str) -> list[int]:
    return [p.pid for p in stack.processes if p.name == name]


def find_redis_server(port: int = 6379) -> psutil.Process | None:
    """The redis-server listening on ``port`` on this machine, where its process can be seen."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if "redis-server" not in (proc.info["name"] or ""):
                continue
            listening = {c.laddr.port for c in proc.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
            if port in listening or f":{port}" in " ".join(proc.info["cmdline"] or []):
                proc.cpu_times()  # raises where this process's figures cannot be read
                return proc
        except psutil.Error:
            continue
    return None


@dataclass
class CpuMeter:
    """CPU seconds used by each group of processes between ``start()`` and ``stop()``.

    Wall time on a shared machine is noisy; CPU time per process is what a
    handoff costs, whatever else the machine is doing.
    """

    groups: Mapping[str, Callable[[], Iterable[int]]]
    used: dict[str, float] | None = None
    wall: float = 0.0
    machine_busy: float = 0.0
    """Share of all cores busy over the window, every process on the machine counted."""
    _start: dict[str, float] | None = None
    _t0: float = 0.0
    _sys0: Any = None

    def sample(self) -> dict[str, float]:
        return {name: sum(tree_cpu_seconds(pid) for pid in pids()) for name, pids in self.groups.items()}

    def start(self) -> None:
        self._start = self.sample()
        self._t0 = time.monotonic()
        self._sys0 = psutil.cpu_times()

    def stop(self) -> dict[str, float]:
        assert self._start is not None, "start() first"
        end = self.sample()
        self.wall = time.monotonic() - self._t0
        sys1 = psutil.cpu_times()
        total = sum(sys1) - sum(self._sys0)
        idle = (sys1.idle + getattr(sys1, "iowait", 0.0)) - (self._sys0.idle + getattr(self._sys0, "iowait", 0.0))
        self.machine_busy = 1 - idle / total if total > 0 else float("nan")
        self.used = {name: max(0.0, end[name] - self._start.get(name, 0.0)) for name in end}
        return self.used


def cores() -> int:
    return os.cpu_count() or 1
