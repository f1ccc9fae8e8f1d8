"""Throughput, latency, CPU and memory of a whole job on the embedded stack, every service in its own process.

    uv run python bench/pipeline.py --employees 1000
    uv run python bench/pipeline.py --employees 30 --replicas researcher=2 content=2
    uv run python bench/pipeline.py --scale researcher --latency 0.5 --employees 20

Prints wall time, courses per minute, handoff latency p50/p95/p99, tracker lag
p50/p95, the CPU that PostgreSQL, nats-server and each service spent per
handoff, and peak memory per service, then checks them against the goals
(1,000 employees in 5 minutes, tracker lag p95 under 1 s, every service under
150 MB).

``--scale STAGE`` runs the job once per replica count of that stage (1, 2, 4),
with the offline model pausing ``--latency`` seconds per call as a slow
provider does, and prints the throughput of each, the speedup, and where the
machine's cores become the limit. Each replica of the stage works on one
message at a time (``--stage-concurrency``) and every other service on 8, so
that the stage being scaled is the bottleneck; the researcher, with three
model calls per module where the others make two, is the slowest stage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    CpuMeter,
    MemorySampler,
    cores,
    parse_replicas,
    percentile,
    run,
    seed,
    stack_pid_groups,
    submit,
    wait_for_job_status,
)

from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, connect
from coursegen.shared.store import bench as bench_store
from coursegen.shared.subjects import SERVICES, STAGES
from coursegen.stack.supervisor import Stack

GOAL_SECONDS_PER_1000 = 300.0
GOAL_TRACKER_LAG_P95 = 1.0
GOAL_RSS_BYTES = 150 * 10**6
CONCURRENCY_ENV = "COURSEGEN_CONCURRENCY"
BUSY_CORES = 0.85
"""Above this share of all cores busy, the machine's cores are the limit."""


@dataclass
class JobRun:
    company_id: uuid.UUID
    job_id: uuid.UUID
    employees: int
    replicas: dict[str, int]
    status: str
    wall: float
    figures: bench_store.JobFigures
    latencies: list[float]
    lags: list[float]
    busy: list[bench_store.StageBusy]
    cpu: dict[str, float]
    machine_busy: float
    peak_rss: dict[str, int] = field(default_factory=dict)

    @property
    def courses_per_minute(self) -> float:
        return self.figures.courses / self.wall * 60 if self.wall > 0 else float("nan")

    def cpu_ms_per_handoff(self, name: str) -> float:
        return self.cpu.get(name, 0.0) * 1000 / self.figures.handoffs if self.figures.handoffs else float("nan")


async def run_job(
    stack: Stack, employees: int, replicas: dict[str, int], timeout: float, *, warm_up: bool = False
) -> JobRun:
    """Start the services, run one job for a new company of ``employees``, stop the services.

    ``warm_up`` first runs an unmeasured job of one employee: a process's first
    messages cost more (lazy imports, caches), which a small job would otherwise carry.
    """
    stack.start_services(replicas)
    try:
        await asyncio.to_thread(stack.wait_ready, 300)
        if warm_up:
            await measure_job(stack, 1, replicas, timeout)
        return await measure_job(stack, employees, replicas, timeout)
    finally:
        await asyncio.to_thread(stack.stop_services)
        stack.processes.clear()


def set_replicas(stack: Stack, name: str, count: int, concurrency: int) -> None:
    """Run ``count`` fresh replicas of one service, each working on ``concurrency`` messages at once.

    The others are left as they are. Each process takes its settings from the
    environment it is started with, so the replicas get their own concurrency.
    """
    old = [p for p in stack.processes if p.name == name]
    for proc in old:
        proc.stopping = True
        proc.popen.terminate()
    for proc in old:
        try:
            proc.popen.wait(30)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()
        stack.processes.remove(proc)
    previous = os.environ.get(CONCURRENCY_ENV)
    os.environ[CONCURRENCY_ENV] = str(concurrency)
    try:
        stack.start_services({**dict.fromkeys(SERVICES, 0), name: count})
    finally:
        if previous is None:
            os.environ.pop(CONCURRENCY_ENV, None)
        else:
            os.environ[CONCURRENCY_ENV] = previous
    stack.wait_ready(300)


async def measure_job(stack: Stack, employees: int, replicas: dict[str, int], timeout: float) -> JobRun:
    """Seed a company and run one job for all its employees on the running services; measure it."""
    company_id = await seed(stack.database_url, employees)
    meter = CpuMeter(stack_pid_groups(stack))
    with MemorySampler(stack) as memory:
        meter.start()
        started = time.monotonic()
        job_id = await submit(stack.nats_url, company_id)
        try:
            status, ended = await wait_for_job_status(stack.database_url, company_id, job_id, timeout)
        except TimeoutError:
            # Reported as it stands: how far the job got is a figure too.
            status, ended = f"not finished after {timeout:.0f} s", time.monotonic()
        cpu = meter.stop()
    pool = await connect(stack.database_url, min_size=1, max_size=1)
    try:
        async with Database(pool).connection() as conn:
            figures = await bench_store.job_figures(conn, company_id, job_id)
            assert figures is not None
            latencies = await bench_store.handoff_latencies(conn, company_id, job_id)
            lags = await bench_store.tracker_lags(conn, company_id, job_id)
            busy = await bench_store.stage_busy(conn, company_id, job_id)
    finally:
        await pool.close()
    return JobRun(
        company_id=company_id,
        job_id=job_id,
        employees=employees,
        replicas=replicas,
        status=status,
        wall=ended - started,
        figures=figures,
        latencies=latencies,
        lags=lags,
        busy=busy,
        cpu=cpu,
        machine_busy=meter.machine_busy,
        peak_rss=dict(memory.peak),
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def print_job(result: JobRun, latency: float) -> None:
    f = result.figures
    print(f"job                 {result.job_id} {result.status}")
    replicas = " ".join(f"{k}={v}" for k, v in result.replicas.items()) or "one each"
    print(f"employees           {result.employees}  replicas {replicas}  offline model {latency}s/call")
    print(f"wall time           {result.wall:.1f} s  (job submitted → job terminal)")
    last = f"{f.last_course_seconds:.1f} s" if f.last_course_seconds is not None else "–"
    print(f"courses             {f.courses} ({f.modules} modules), the last one assembled {last} after the job began")
    print(f"courses per minute  {result.courses_per_minute:.1f}")
    print(f"handoffs            {f.handoffs} ({f.handoffs / result.wall:.1f}/s), {f.events} events recorded")
    lat = result.latencies
    print(
        f"handoff latency     p50 {ms(percentile(lat, 50))}, p95 {ms(percentile(lat, 95))}, "
        f"p99 {ms(percentile(lat, 99))}  ({len(lat)} handoffs: event occurred_at, set as the sender publishes "
        "→ start of the receiver's agent run, its created_at less its duration)"
    )
    lags = result.lags
    print(
        f"tracker lag         p50 {ms(percentile(lags, 50))}, p95 {ms(percentile(lags, 95))}  "
        f"({len(lags)} events: occurred_at → the tracker's row, handoff_timestamp)"
    )
    stages_cpu = sum(v for k, v in result.cpu.items() if k in SERVICES)
    print(
        f"CPU per handoff     PostgreSQL {result.cpu_ms_per_handoff('postgres'):.1f} ms, "
        f"nats-server {result.cpu_ms_per_handoff('nats-server'):.1f} ms, "
        f"services {stages_cpu * 1000 / max(1, f.handoffs):.1f} ms  (process CPU over the job / handoffs)"
    )
    print(
        "  per service       "
        + ", ".join(f"{name} {result.cpu_ms_per_handoff(name):.1f}" for name in SERVICES if name in result.cpu)
    )
    print(f"machine             {result.machine_busy:.0%} of {cores()} cores busy during the job (all processes)")
    print(
        "peak RSS            "
        + ", ".join(f"{name} {rss / 10**6:.0f} MB" for name, rss in sorted(result.peak_rss.items()))
    )
    if result.busy:
        top = result.busy[0]
        print(
            "agent time/stage    "
            + ", ".join(f"{b.stage} {b.seconds:.0f} s/{b.runs}" for b in result.busy)
            + f"  (slowest: {top.stage})"
        )
    print_goals(result)


def print_goals(result: JobRun) -> None:
    per_1000 = result.wall / max(1, result.figures.courses) * 1000
    lag95 = percentile(result.lags, 95)
    over = {name: rss for name, rss in result.peak_rss.items() if rss >= GOAL_RSS_BYTES}
    print("goals")
    verdict = "met" if per_1000 <= GOAL_SECONDS_PER_1000 else "not met"
    scope = "measured" if result.employees >= 1000 else f"extrapolated from {result.employees}"
    print(f"  1000 employees in ≤ 5 min      {verdict}: {per_1000 / 60:.1f} min ({scope})")
    verdict = "met" if lag95 < GOAL_TRACKER_LAG_P95 else "not met"
    print(f"  tracker lag p95 < 1 s          {verdict}: {ms(lag95)}")
    detail = ", ".join(f"{n} {r / 10**6:.0f} MB" for n, r in sorted(over.items())) or "all under"
    print(f"  every service < 150 MB RSS     {'met' if not over else 'not met'}: {detail}")


def print_scale(stage: str, results: list[JobRun], args: argparse.Namespace) -> None:
    print(
        f"scaling {stage}: offline model {args.latency}s per call, {cores()} cores; each {stage} replica works on "
        f"{args.stage_concurrency} message(s) at a time, every other service on {args.others_concurrency} "
        "(so that they are not the bottleneck)"
    )
    print(f"{'replicas':>8} {'courses':>7} {'wall s':>7} {'courses/min':>11} {'speedup':>7} {'linear':>6} "
          f"{'CPU s/course':>12} {'cores allow':>11} {'stack CPU':>9} {'machine':>7}  {stage} busy")  # fmt: skip
    base = results[0].courses_per_minute
    limit: str | None = None
    ceilings = []
    for result in results:
        n = result.replicas.get(stage, 1)
        speedup = result.courses_per_minute / base if base else float("nan")
        cpu_per_course = sum(result.cpu.values()) / max(1, result.figures.courses)
        # The most courses per minute this machine's cores could make at this CPU cost per course.
        ceiling = cores() * 60 / cpu_per_course if cpu_per_course else float("nan")
        ceilings.append(ceiling)
        # The share of all cores the stack's own processes used (the machine may be busy with other work too).
        stack_busy = sum(result.cpu.values()) / (result.wall * cores()) if result.wall else float("nan")
        agent_seconds = sum(b.seconds for b in result.busy if b.stage == stage)
        # The share of the stage's message slots (replicas × concurrency × wall) spent in agent runs.
        stage_busy = agent_seconds / (result.wall * n * args.stage_concurrency) if result.wall else float("nan")
        print(f"{n:>8} {result.figures.courses:>7} {result.wall:>7.1f} {result.courses_per_minute:>11.1f} "
              f"{speedup:>6.2f}x {n:>5}x {cpu_per_course:>12.2f} {ceiling:>11.1f} {stack_busy:>9.0%} "
              f"{result.machine_busy:>7.0%}  {stage_busy:<12.0%}")  # fmt: skip
        if limit is None and (stack_busy >= BUSY_CORES or result.courses_per_minute >= BUSY_CORES * ceiling):
            limit = (
                f"the {cores()} cores are the limit from {n} replica(s) of {stage} on: the stack used {stack_busy:.0%} "
                f"of them, {result.courses_per_minute:.1f} of the {ceiling:.1f} courses/min they allow at this CPU "
                "cost per course"
            )
    if limit is None:
        ceiling = min(ceilings)
        limit = (
            f"the cores were not the limit up to {results[-1].replicas.get(stage, 1)} replicas of {stage}. At "
            f"{base:.1f} courses/min per replica they would be at about {ceiling / base:.0f} replicas "
            f"({ceiling:.0f} courses/min at this CPU cost per course)"
            if base
            else "no courses were made"
        )
    print(limit)
    print(
        "stack CPU: the stack's own processes' CPU over the run, as a share of all cores; machine: every process on "
        f"this machine. Where {stage} busy falls well below 100%, {stage} is no longer the bottleneck: the other "
        "stages and the job's last courses (a course's stages run one after another) set the pace."
    )


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, not {text!r}") from None
    if not counts or any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError(f"expected counts of 1 or more, not {text!r}")
    return counts


async def main(args: argparse.Namespace, replicas: dict[str, int]) -> None:
    os.environ["COURSEGEN_OFFLINE_LATENCY_SECONDS"] = str(args.latency)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="coursegen-bench-"))
    with Stack(settings=Settings(data_dir=data_dir)) as stack:
        if args.scale:
            # The other services keep running between the runs; only the scaled stage's replicas change.
            results = []
            os.environ[CONCURRENCY_ENV] = str(args.others_concurrency)
            # A message at work holds one connection for its lock and its tools take another: a pool smaller
            # than twice the concurrency stalls the service.
            pool_max = 2 * max(args.others_concurrency, args.stage_concurrency) + 2
            os.environ["COURSEGEN_DB_POOL_MAX"] = str(max(pool_max, int(os.environ.get("COURSEGEN_DB_POOL_MAX", "10"))))
            stack.start_services({**replicas, args.scale: 0})
            try:
                # A first, unmeasured job: the first messages a process handles cost more (imports, caches).
                await asyncio.to_thread(set_replicas, stack, args.scale, 1, args.stage_concurrency)
                await measure_job(stack, 1, replicas, args.timeout)
                for n in args.scale_replicas:
                    await asyncio.to_thread(set_replicas, stack, args.scale, n, args.stage_concurrency)
                    result = await measure_job(stack, args.employees, {**replicas, args.scale: n}, args.timeout)
                    results.append(result)
                    print(f"  {args.scale}={n}: {result.figures.courses} courses in {result.wall:.1f} s", flush=True)
            finally:
                await asyncio.to_thread(stack.stop_services)
            print_scale(args.scale, results, args)
        else:
            print_job(await run_job(stack, args.employees, replicas, args.timeout), args.latency)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=30)
    parser.add_argument("--replicas", nargs="*", default=[], metavar="SERVICE=N")
    parser.add_argument("--latency", type=float, help="offline model pause per call, seconds (0; 0.5 with --scale)")
    parser.add_argument("--scale", metavar="STAGE", help=f"run once per replica count of: {', '.join(STAGES)}")
    parser.add_argument("--scale-replicas", type=parse_counts, default=[1, 2, 4], metavar="1,2,4")
    parser.add_argument("--stage-concurrency", type=int, default=1, help="with --scale: messages per replica (1)")
    parser.add_argument(
        "--others-concurrency", type=int, default=8, help="with --scale: messages per replica of the others (8)"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for a job to end")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    if args.employees < 1:
        parser.error("--employees must be 1 or more")
    if args.scale and args.scale not in STAGES:
        parser.error(f"--scale takes a stage: {', '.join(STAGES)}")
    if args.stage_concurrency < 1 or args.others_concurrency < 1:
        parser.error("concurrency must be 1 or more")
    if args.latency is None:
        args.latency = 0.5 if args.scale else 0.0
    if args.latency < 0:
        parser.error("--latency must be 0 or more")
    try:
        replicas = parse_replicas(args.replicas)
    except ValueError:
        parser.error(f"--replicas takes SERVICE=N, e.g. researcher=2 (services: {', '.join(SERVICES)})")
    unknown = sorted(set(replicas) - set(SERVICES))
    if unknown:
        parser.error(f"unknown service {unknown[0]!r}; services are: {', '.join(SERVICES)}")
    if any(n < 0 for n in replicas.values()):
        parser.error("replicas must be 0 or more")
    run(main(args, replicas))
