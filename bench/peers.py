"""coursegen side by side with its peers, on the same course shape, in one run.

    uv run python bench/peers.py --employees 10,100

The shape: a planner; per module researcher → content → quality → enhancer →
multimedia; a finalizer joining the modules. Every step writes its row to
PostgreSQL under a unique key. It runs on

- **coursegen**: every service in its own process, the offline model (agents included),
  after an unmeasured job of one employee (a process's first messages cost more);
- **celery**: a Celery chain per module joined by a chord, on Redis, workers with
  ``acks_late`` and a prefetch multiplier of 1, one pool process per core;
- **floor**: plain asyncio in one process, asyncpg and one JetStream publish per handoff.

Each peer repeats the courses coursegen made (the same number of modules per
course). PostgreSQL and nats-server are the embedded ones the benchmark
starts; Redis is the one machine-wide dependency (``--redis-url``): when it
cannot be reached, the Celery row is skipped and the output says so.

Wall time on a shared machine is noisy, so the table's main figure is CPU
(user + system) per handoff per process kind, read with psutil over each
system's run: its application processes, PostgreSQL (postmaster and
backends), nats-server, and redis-server where its process can be seen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from _common import CpuMeter, cores, find_redis_server, run, stack_pid_groups
from pipeline import run_job

from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, connect
from coursegen.shared.store import bench as bench_store
from coursegen.shared.subjects import SERVICES
from coursegen.stack.supervisor import Stack

BENCH_DIR = Path(__file__).resolve().parent
SYSTEMS = ("coursegen", "celery", "floor")
KINDS = ("app", "postgres", "nats-server", "redis")
DEFAULT_MODULES = 3
"""Modules per course for the peers when coursegen is not run."""


@dataclass
class Row:
    system: str
    employees: int
    courses: int
    wall: float
    handoffs: int
    cpu: dict[str, float]
    """CPU seconds per process kind: app, postgres, nats-server, redis (absent: not counted)."""
    machine_busy: float
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def courses_per_minute(self) -> float:
        return self.courses / self.wall * 60 if self.wall > 0 else float("nan")

    def ms_per_handoff(self, kind: str) -> float | None:
        if kind not in self.cpu or not self.handoffs:
            return None
        return self.cpu[kind] * 1000 / self.handoffs

    @property
    def total_ms_per_handoff(self) -> float:
        return sum(self.cpu.values()) * 1000 / self.handoffs if self.handoffs else float("nan")

    @property
    def total_ms_per_course(self) -> float:
        return sum(self.cpu.values()) * 1000 / self.courses if self.courses else float("nan")


# --- coursegen ---------------------------------------------------------------------------------------


async def run_coursegen(stack: Stack, employees: int, timeout: float) -> tuple[Row, list[int]]:
    result = await run_job(stack, employees, {}, timeout, warm_up=True)
    if result.status not in ("completed", "completed_with_errors"):
        raise RuntimeError(f"coursegen's job ended {result.status}")
    pool = await connect(stack.database_url, min_size=1, max_size=1)
    try:
        async with Database(pool).connection() as conn:
            modules = await bench_store.course_module_counts(conn, result.company_id, result.job_id)
    finally:
        await pool.close()
    services = {name: cpu for name, cpu in result.cpu.items() if name in SERVICES}
    row = Row(
        system="coursegen",
        employees=employees,
        courses=result.figures.courses,
        wall=result.wall,
        handoffs=result.figures.handoffs,
        cpu={
            "app": sum(services.values()),
            "postgres": result.cpu.get("postgres", 0.0),
            "nats-server": result.cpu.get("nats-server", 0.0),
        },
        machine_busy=result.machine_busy,
        detail=services,
    )
    return row, modules


# --- shared by the peers -----------------------------------------------------------------------------


def server_groups(stack: Stack) -> dict[str, Callable[[], Iterable[int]]]:
    groups = stack_pid_groups(stack)
    return {kind: groups[kind] for kind in ("postgres", "nats-server") if kind in groups}


async def wait_for_finalized(database_url: str, peer: str, prefix: str, courses: int, timeout: float) -> int:
    """Poll until every run of the peer is finalized; returns the steps (rows) it stored."""
    pool = await connect(database_url, min_size=1, max_size=1)
    try:
        deadline = time.monotonic() + timeout
        async with Database(pool).connection() as conn:
            while True:
                steps, finalized = await bench_store.peer_step_counts(conn, peer=peer, run_prefix=prefix)
                if finalized >= courses:
                    return steps
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{peer}: {finalized} of {courses} courses finalized after {timeout:.0f} s")
                await asyncio.sleep(0.1)
    finally:
        await pool.close()


async def prepare_peer_table(database_url: str) -> None:
    pool = await connect(database_url, min_size=1, max_size=1)
    try:
        async with Database(pool).connection() as conn:
            await bench_store.create_peer_steps_table(conn)
    finally:
        await pool.close()


# --- celery ------------------------------------------------------------------------------------------


def redis_reachable(url: str) -> str | None:
    """None when Redis answers PING at ``url``; otherwise why not."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            answer = s.recv(64)
    except OSError as exc:
        return f"no Redis at {host}:{port} ({exc.strerror or exc})"
    if not answer.startswith(b"+PONG"):
        return f"Redis at {host}:{port} answered {answer[:40]!r} to PING"
    return None


def celery_missing() -> str | None:
    try:
        import celery  # noqa: F401
    except ImportError:
        return "Celery is not installed (uv sync installs the bench group)"
    return None


async def run_celery(stack: Stack, modules: list[int], redis_url: str, timeout: float, logs: Path) -> Row:
    tag = uuid.uuid4().hex[:10]
    queue = f"coursegen-bench-{tag}"
    os.environ.update(BENCH_CELERY_BROKER=redis_url, BENCH_CELERY_QUEUE=queue, BENCH_DATABASE_URL=stack.database_url)
    import _celery_peer

    _celery_peer.app.conf.update(broker_url=redis_url, result_backend=redis_url, task_default_queue=queue)
    node = f"{queue}@{socket.gethostname()}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), os.environ.get("PYTHONPATH", "")])}
    log_path = logs / f"celery-{tag}.log"
    worker = _start_celery_worker(queue, node, env, log_path)
    try:
        await _wait_celery_ready(_celery_peer.app, node, worker, log_path)
        groups = server_groups(stack)
        groups["app"] = lambda: [worker.pid]
        redis = find_redis_server(urlparse(redis_url).port or 6379)
        if redis is not None and redis.pid not in _descendants(os.getpid()):
            redis_pid = redis.pid
            groups["redis"] = lambda: [redis_pid]
        meter = CpuMeter(groups)
        prefix = f"{tag}:"
        meter.start()
        for i, count in enumerate(modules):
            _celery_peer.planner.apply_async((f"{prefix}{i}", count), queue=queue)
        steps = await wait_for_finalized(stack.database_url, "celery", prefix, len(modules), timeout)
        cpu = meter.stop()
    finally:
        _stop(worker)
    return Row("celery", len(modules), len(modules), meter.wall, steps, cpu, meter.machine_busy)


def _start_celery_worker(queue: str, node: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "_celery_peer", "worker", "--pool", "prefork",
             "--concurrency", str(cores()), "--prefetch-multiplier", "1", "-Q", queue, "-n", node,
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
            cwd=BENCH_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


async def _wait_celery_ready(app: Any, node: str, worker: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode}; see {log_path}")
        replies = await asyncio.to_thread(app.control.ping, destination=[node], timeout=1.0)
        if replies:
            return
    raise RuntimeError(f"the Celery worker did not answer a ping within 120 s; see {log_path}")


def _descendants(pid: int) -> set[int]:
    import psutil

    with contextlib.suppress(psutil.Error):
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    return set()


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- floor -------------------------------------------------------------------------------------------


def _start_floor(stack: Stack, prefix: str, modules: list[int], timeout: float) -> subprocess.Popen[str]:
    # The floor makes a stream of its own: the operator's NATS user may.
    nats_url = stack.nats.url_as("admin") if stack.nats else stack.nats_url
    return subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "_floor_peer.py"), "--nats-url", nats_url,
         "--database-url", stack.database_url, "--run-prefix", prefix, "--modules", json.dumps(modules),
         "--timeout", str(timeout)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


async def run_floor(stack: Stack, modules: list[int], timeout: float) -> Row:
    prefix = f"{uuid.uuid4().hex[:10]}:"
    floor = _start_floor(stack, prefix, modules, timeout)
    assert floor.stdin is not None and floor.stdout is not None
    try:
        ready = await asyncio.to_thread(floor.stdout.readline)
        if ready.strip() != "ready":
            raise RuntimeError(f"the floor process did not start (exit code {floor.poll()})")
        meter = CpuMeter(server_groups(stack))
        meter.start()
        floor.stdin.write("go\n")
        floor.stdin.flush()
        line = await asyncio.to_thread(floor.stdout.readline)
        cpu = meter.stop()
        if not line.strip():
            raise RuntimeError(f"the floor process ended without figures (exit code {floor.wait()})")
        figures = json.loads(line)
        await asyncio.to_thread(floor.wait, 30)
    finally:
        _stop(floor)
    cpu["app"] = float(figures["cpu_seconds"])
    return Row("floor", len(modules), int(figures["courses"]), meter.wall, int(figures["handoffs"]), cpu,
               meter.machine_busy)  # fmt: skip


# --- the table ---------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "–" if value is None or value != value else format(value, spec)


def print_table(rows: list[Row]) -> None:
    print()
    print(f"{'employees':>9} {'system':<10} {'courses/min':>11} {'handoffs':>8} "
          f"{'app':>6} {'postgres':>8} {'nats':>6} {'redis':>6} {'total':>7} {'ms/course':>9} "
          f"{'cpu ×cg':>7} {'speed ×cg':>9} {'machine':>7}")  # fmt: skip
    print(f"{'':>9} {'':<10} {'':>11} {'':>8} {'CPU ms per handoff':^48}")
    for employees in sorted({r.employees for r in rows}):
        group = [r for r in rows if r.employees == employees]
        base = next((r for r in group if r.system == "coursegen"), None)
        for r in group:
            cpu_ratio = r.total_ms_per_handoff / base.total_ms_per_handoff if base else None
            speed_ratio = r.courses_per_minute / base.courses_per_minute if base else None
            print(f"{employees:>9} {r.system:<10} {fmt(r.courses_per_minute):>11} {r.handoffs:>8} "
                  f"{fmt(r.ms_per_handoff('app')):>6} {fmt(r.ms_per_handoff('postgres')):>8} "
                  f"{fmt(r.ms_per_handoff('nats-server')):>6} {fmt(r.ms_per_handoff('redis')):>6} "
                  f"{fmt(r.total_ms_per_handoff):>7} {fmt(r.total_ms_per_course, '.0f'):>9} "
                  f"{fmt(cpu_ratio, '.2f'):>7} {fmt(speed_ratio, '.2f'):>9} {r.machine_busy:>7.0%}")  # fmt: skip
    for r in rows:
        if r.system == "coursegen" and r.detail:
            split = ", ".join(f"{n} {v * 1000 / max(1, r.handoffs):.1f}" for n, v in r.detail.items())
            print(f"coursegen app CPU ms per handoff, {r.employees} employees: {split}")
    print()
    print("app: coursegen's services (agents with the offline model included), the Celery worker (main and pool")
    print("processes), the floor's one process. CPU = user + system over the system's run (psutil), excluding")
    print("start-up. handoffs: coursegen's coursegen.handoff.* events (revisions included); Celery's tasks run")
    print("(planner, five per module, the chord's finalizer); the floor's JetStream publishes (planner, six per")
    print("module). ms/course compares the same course shape whatever the handoff count. ×cg: ratio to coursegen")
    print("(total CPU per handoff; courses per minute). machine: share of all cores busy during the run, every")
    print("process on this shared machine counted: wall-time figures are only as steady as that is.")


def print_goals(rows: list[Row]) -> None:
    for employees in sorted({r.employees for r in rows}):
        by = {r.system: r for r in rows if r.employees == employees}
        cg = by.get("coursegen")
        if cg is None:
            continue
        parts = [f"{employees} employees: coursegen {cg.total_ms_per_handoff:.1f} ms CPU per handoff"]
        if "celery" in by:
            verdict = "below" if cg.total_ms_per_handoff < by["celery"].total_ms_per_handoff else "NOT below"
            parts.append(f"{verdict} Celery's {by['celery'].total_ms_per_handoff:.1f} ms (goal: below)")
        if "floor" in by:
            parts.append(f"{cg.total_ms_per_handoff / by['floor'].total_ms_per_handoff:.1f}× the floor (goal: 2×)")
        print("goal    " + "; ".join(parts))


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, not {text!r}") from None
    if not counts or any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError(f"expected employee counts of 1 or more, not {text!r}")
    return counts


def parse_systems(text: str) -> list[str]:
    systems = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems:
        raise argparse.ArgumentTypeError(f"systems are {', '.join(SYSTEMS)}, not {text!r}")
    return systems


async def main(args: argparse.Namespace) -> None:
    os.environ["COURSEGEN_OFFLINE_LATENCY_SECONDS"] = "0"
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="coursegen-peers-"))
    print(f"peers: same course shape, one row per step under a unique key; {cores()} cores; offline model")
    skip_celery = None
    if "celery" in args.systems:
        skip_celery = celery_missing() or redis_reachable(args.redis_url)
        if skip_celery:
            print(f"Celery row skipped: {skip_celery}")
        else:
            redis = find_redis_server(urlparse(args.redis_url).port or 6379)
            seen = f"its CPU counted (pid {redis.pid})" if redis else "its process is not visible here: not counted"
            print(f"Redis: {args.redis_url} on this machine, for the Celery row; {seen}")
    rows: list[Row] = []
    with Stack(settings=Settings(data_dir=data_dir)) as stack:
        # The peers' table is the bench's own: the schema owner makes it, the app role writes its rows.
        await prepare_peer_table(stack.postgres.owner_url if stack.postgres else stack.database_url)
        for employees in args.employees:
            modules = [DEFAULT_MODULES] * employees
            if "coursegen" in args.systems:
                row, shape = await run_coursegen(stack, employees, args.timeout)
                modules = [m for m in shape if m > 0] or modules
                rows.append(row)
                print(f"  coursegen, {employees} employees: {row.courses} courses in {row.wall:.1f} s", flush=True)
            if "celery" in args.systems and not skip_celery:
                row = await run_celery(stack, modules, args.redis_url, args.timeout, stack.logs_dir)
                rows.append(row)
                print(f"  celery, {len(modules)} courses in {row.wall:.1f} s", flush=True)
            if "floor" in args.systems:
                row = await run_floor(stack, modules, args.timeout)
                rows.append(row)
                print(f"  floor, {len(modules)} courses in {row.wall:.1f} s", flush=True)
    print_table(rows)
    print_goals(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=parse_counts, default=[10, 100], metavar="10,100")
    parser.add_argument("--systems", type=parse_systems, default=list(SYSTEMS), metavar=",".join(SYSTEMS))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one system's run")
    parser.add_argument("--data-dir")
    run(main(parser.parse_args()))
