"""The kill test at scale: SIGKILL stage replicas throughout a big job, then count what was lost or doubled.

    uv run python bench/chaos.py --employees 200 --kills 100

Two replicas per stage. Prints courses completed / expected, duplicate rows,
tokens spent on re-runs, and the time to recover after a kill: until the
killed replica consumes again, and until the work it held is redone by the
redelivered message (median, max). A job that does not end within
``--timeout`` is reported as it stands, with its unfinished runs; the exit
code is 1 when a course is missing, a row doubled or a token spent twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import median, run, seed, submit, wait_for_job

from coursegen.shared.settings import Settings
from coursegen.shared.store import Connection, Database, connect
from coursegen.shared.store.measurements import (
    ARTIFACT_KEYS,
    duplicate_rows,
    job_throughput,
    rerun_spend,
    retried_successes,
    unfinished_runs,
)
from coursegen.shared.store.reports import find_job
from coursegen.shared.subjects import STAGES
from coursegen.stack.supervisor import Stack


async def main(args: argparse.Namespace) -> None:
    os.environ.update(
        COURSEGEN_ACK_WAIT_SECONDS=str(args.ack_wait),
        COURSEGEN_MAX_DELIVERIES="50",
        COURSEGEN_RETRY_BASE_DELAY_SECONDS="0.2",
        COURSEGEN_RETRY_MAX_DELAY_SECONDS="2",
        COURSEGEN_OFFLINE_LATENCY_SECONDS=str(args.latency),
    )
    rng = random.Random(args.seed)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="coursegen-chaos-"))
    kills: list[tuple[float, str, int]] = []
    back: list[float] = []
    with Stack(settings=Settings(data_dir=data_dir)) as stack:
        company_id = await seed(stack.database_url, args.employees)
        stack.start_services({stage: 2 for stage in STAGES})
        await asyncio.to_thread(stack.wait_ready, 300)
        started = time.monotonic()
        job_id = await submit(stack.nats_url, company_id)
        db = Database(await connect(stack.database_url))
        try:
            interval = args.interval
            while len(kills) < args.kills:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * interval)
                async with db.connection() as conn:
                    polled = await find_job(conn, job_id)
                if polled is not None and polled.status not in ("pending", "running"):
                    break
                stage, index = rng.choice(STAGES), rng.randrange(2)
                killed_at = time.time()
                await asyncio.to_thread(stack.kill, stage, index)
                proc = await asyncio.to_thread(stack.restart, stage, index)
                kills.append((killed_at, stage, index))
                asyncio.get_running_loop().create_task(_time_until_ready(proc, killed_at, back))
            try:
                job = await wait_for_job(stack.database_url, job_id, args.timeout)
            except TimeoutError:
                # Not ended: the figures below say what was lost, and where the unfinished runs stand.
                async with db.connection() as conn:
                    found = await find_job(conn, job_id)
                assert found is not None, f"job {job_id} was never stored"
                job = found
            async with db.connection() as conn:
                unfinished = await unfinished_runs(conn, company_id, job_id)
                elapsed = time.monotonic() - started
                expected = args.employees
                courses = (await job_throughput(conn, company_id, job_id)).courses
                dupes = await duplicate_rows(conn, company_id, job_id, ARTIFACT_KEYS)
                rerun = await rerun_spend(conn, company_id, job_id)
                redone = await redone_after_kills(conn, company_id, job_id, kills)
        finally:
            await db.close()
    print(f"job                       {job_id} {job.status} in {elapsed:.0f} s")
    print(f"kills                     {len(kills)} (SIGKILL, two replicas per stage, ack_wait {args.ack_wait}s)")
    print(f"courses completed         {courses} / {expected}")
    print(f"duplicate rows            {dupes}")
    print(f"tokens spent on re-runs   {rerun.tokens} of {rerun.total_tokens} ({rerun.runs} discarded runs)")
    print(f"replica consuming again   median {median(back):.1f} s, max {max(back, default=float('nan')):.1f} s")
    print(f"held work redone after    median {median(redone):.1f} s, max {max(redone, default=float('nan')):.1f} s "
          f"({len(redone)} kills held work)")  # fmt: skip
    for left in unfinished:
        print(f"unfinished run            {left.session_id} {left.status} at {left.current_stage}, "
              f"last progress {left.last_progress_at:%H:%M:%S}")  # fmt: skip
    if courses < expected or dupes or rerun.tokens:
        raise SystemExit(1)


async def _time_until_ready(proc: Any, killed_at: float, out: list[float]) -> None:
    # The replica signals readiness through a file, so this polls rather than awaits an event.
    while not proc.ready and proc.returncode is None:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    out.append(time.time() - killed_at)


async def redone_after_kills(
    conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID, kills: list[tuple[float, str, int]]
) -> list[float]:
    """For each kill: how long until a redelivered unit of that stage completed (the work the victim held)."""
    rows = await retried_successes(conn, company_id, job_id)
    times = []
    used: set[int] = set()
    for killed_at, stage, _ in kills:
        for i, row in enumerate(rows):
            if i not in used and row.stage == stage and row.done_at >= killed_at:
                used.add(i)
                times.append(row.done_at - killed_at)
                break
    return times


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=200)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--interval", type=float, default=1.0, help="mean seconds between kills")
    parser.add_argument("--ack-wait", type=float, default=5.0)
    parser.add_argument("--latency", type=float, default=0.1, help="offline model pause per call, seconds")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the job to end")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir")
    run(main(parser.parse_args()))
