"""The benchmarks run at their smallest size and print their tables with every row and a number in each.

Each bench is run as a user runs it (``python bench/NAME.py``), starting its own
embedded nats-server and PostgreSQL. Nothing here asserts a timing: only that
the figures are there and are numbers.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from coursegen.shared.subjects import SERVICES

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"\d+(?:\.\d+)?"


def redis_here() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def bench_dir() -> Iterator[Path]:
    # Not under pytest's temp root, which is 0700: the embedded PostgreSQL runs as its own user.
    path = Path(tempfile.mkdtemp(prefix="coursegen-bench-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_bench(script: str, *args: str, data_dir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("COURSEGEN_NATS_URL", "COURSEGEN_DATABASE_URL")}
    env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}"
    return done.stdout


def line(output: str, label: str) -> str:
    found = [row for row in output.splitlines() if row.startswith(label)]
    assert found, f"no line {label!r} in:\n{output}"
    return found[0]


def test_pipeline_bench_prints_every_figure(bench_dir: Path) -> None:
    out = run_bench("pipeline.py", "--employees", "2", data_dir=bench_dir)

    assert re.search(r"^job\s+\S+ completed$", out, re.M), out
    assert re.search(rf"^courses\s+2 \({NUMBER} modules\)", out, re.M), out
    assert re.search(rf"^courses per minute\s+{NUMBER}$", out, re.M), out
    assert re.search(rf"^wall time\s+{NUMBER} s", out, re.M), out
    assert re.search(rf"^handoff latency\s+p50 -?{NUMBER} ms, p95 -?{NUMBER} ms, p99 -?{NUMBER} ms", out, re.M), out
    assert re.search(rf"^tracker lag\s+p50 -?{NUMBER} ms, p95 -?{NUMBER} ms", out, re.M), out
    cpu = rf"^CPU per handoff\s+PostgreSQL {NUMBER} ms, nats-server {NUMBER} ms, services {NUMBER} ms"
    assert re.search(cpu, out, re.M), out
    rss = line(out, "peak RSS")
    for service in SERVICES:
        assert re.search(rf"\b{service} {NUMBER} MB", rss), f"{service} missing from: {rss}"
    assert "tracker lag p95 < 1 s" in line(out, "  tracker lag p95")
    assert re.search(r"^  every service < 150 MB RSS\s+(met|not met)", out, re.M), out


def test_scale_mode_prints_throughput_per_replica_count(bench_dir: Path) -> None:
    out = run_bench(
        "pipeline.py", "--scale", "planner", "--scale-replicas", "1,2", "--employees", "1", "--latency", "0.01",
        data_dir=bench_dir,
    )  # fmt: skip

    assert line(out, "scaling planner").startswith("scaling planner: offline model 0.01s per call")
    for replicas in (1, 2):
        # replicas, courses, wall s, courses/min, speedup, linear, CPU s/course, cores allow, stack CPU, machine
        row = rf"^\s+{replicas}\s+1\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}x\s+{replicas}x\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}%"
        row += rf"\s+{NUMBER}%"
        assert re.search(row, out, re.M), out
    assert re.search(r"cores (are|were not) the limit", out), out


def test_peers_bench_prints_a_row_per_system(bench_dir: Path) -> None:
    out = run_bench("peers.py", "--employees", "1", data_dir=bench_dir)

    systems = ["coursegen", "floor"]
    if redis_here():
        systems.append("celery")
        assert "Redis: redis://127.0.0.1:6379/0 on this machine" in out
    else:
        assert "Celery row skipped: no Redis at 127.0.0.1:6379" in out
    for system in systems:
        # employees, system, courses/min, handoffs, then CPU ms per handoff: app, postgres, nats.
        row = rf"^\s+1 {system}\s+{NUMBER}\s+\d+\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+"
        assert re.search(row, out, re.M), f"no {system} row in:\n{out}"
    assert re.search(rf"^\s+1 coursegen .* 1\.00\s+1\.00\s+{NUMBER}%$", out, re.M), out
    assert re.search(rf"^goal\s+1 employees: coursegen {NUMBER} ms CPU per handoff", out, re.M), out


def test_peers_bench_skips_celery_without_redis(bench_dir: Path) -> None:
    out = run_bench(
        "peers.py", "--employees", "1", "--systems", "celery,floor", "--redis-url", "redis://127.0.0.1:1/0",
        data_dir=bench_dir,
    )  # fmt: skip

    assert "Celery row skipped: no Redis at 127.0.0.1:1" in out
    assert not re.search(r"^\s+1 celery ", out, re.M), out
    assert re.search(rf"^\s+1 floor\s+{NUMBER}\s+\d+\s+{NUMBER}", out, re.M), out


def test_gateway_bench_prints_latency_streams_and_memory(bench_dir: Path) -> None:
    out = run_bench(
        "gateway.py", "--streams", "3", "--readers", "2", "--seconds", "2", "--employees", "2", "--latency", "0.05",
        data_dir=bench_dir,
    )  # fmt: skip

    assert line(out, "gateway under load").startswith("gateway under load: 3 event streams open on a running job")
    for label in ("  course page", "  job API"):
        assert re.search(rf"n=\s*[1-9]\d*\s+p50\s+{NUMBER} ms\s+p95\s+{NUMBER} ms$", line(out, label)), out
    assert re.search(r"^  event streams\s+\d of 3 still open at the end, [1-9]\d* SSE events received$", out, re.M), out
    memory = rf"^  gateway memory\s+{NUMBER} MiB idle, {NUMBER} MiB with the streams open, {NUMBER} MiB under load; "
    assert re.search(memory + rf"CPU {NUMBER} s in 2 s$", out, re.M), out
