"""Throughput and latency of a whole job on the embedded stack, every service in its own process.

    uv run python bench/pipeline.py --employees 30 --replicas researcher=2 content=2

Prints courses per minute, handoffs per second, the median and p95 handoff
latency (a handoff's publish to the next stage's start) and peak memory per
service. ``--latency`` makes the offline model pause per call like a real one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from _common import MemorySampler, median, parse_replicas, percentile, run, seed, submit, wait_for_job

from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, connect
from coursegen.shared.store.measurements import handoff_latencies, job_throughput
from coursegen.stack.supervisor import Stack


async def main(args: argparse.Namespace) -> None:
    os.environ["COURSEGEN_OFFLINE_LATENCY_SECONDS"] = str(args.latency)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="coursegen-bench-"))
    with Stack(settings=Settings(data_dir=data_dir)) as stack:
        company_id = await seed(stack.database_url, args.employees)
        stack.start_services(parse_replicas(args.replicas))
        await asyncio.to_thread(stack.wait_ready, 300)
        with MemorySampler(stack) as memory:
            started = time.monotonic()
            job_id = await submit(stack.nats_url, company_id)
            job = await wait_for_job(stack.database_url, job_id, args.timeout)
            elapsed = time.monotonic() - started
        db = Database(await connect(stack.database_url))
        try:
            async with db.connection() as conn:
                figures = await job_throughput(conn, company_id, job_id)
                latencies = await handoff_latencies(conn, company_id, job_id)
        finally:
            await db.close()
    courses, modules, handoffs, tokens = figures.courses, figures.modules, figures.handoffs, figures.tokens
    print(f"job                 {job_id} {job.status}")
    print(f"employees           {args.employees}  replicas {args.replicas or 'one each'}  "
          f"offline latency {args.latency}s/call")  # fmt: skip
    print(f"courses             {courses} ({modules} modules) in {elapsed:.1f} s")
    print(f"courses per minute  {courses / elapsed * 60:.1f}")
    print(f"handoffs per second {handoffs / elapsed:.1f}  ({handoffs} handoffs)")
    p50, p95 = median(latencies) * 1000, percentile(latencies, 95) * 1000
    print(f"handoff latency     median {p50:.0f} ms, p95 {p95:.0f} ms (publish → next stage starts, {len(latencies)})")
    print(f"tokens              {tokens}")
    print(
        "peak memory (RSS)   " + ", ".join(f"{name} {rss / 2**20:.0f} MiB" for name, rss in sorted(memory.peak.items()))
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=30)
    parser.add_argument("--replicas", nargs="*", default=[], metavar="SERVICE=N")
    parser.add_argument("--latency", type=float, default=0.0, help="offline model pause per call, seconds")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--data-dir")
    run(main(parser.parse_args()))
