"""The gateway under load: latency of the course page and the job API while 200 event streams are open.

Starts the whole stack (embedded servers, every service, the gateway as its own process), generates one
course to read, then starts a longer job and opens ``--streams`` event streams on it. While they are open,
``--readers`` clients read the course page and the job API in a loop for ``--seconds``. Prints p50/p95 of
each, the events the streams received, and the gateway's memory.

    uv run python bench/gateway.py [--streams 200] [--readers 8] [--seconds 20] [--employees 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from _common import run, seed

from coursegen.gateway.security import digest, hash_password, new_api_key
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, connect
from coursegen.shared.store.users import create_api_key, create_session, create_user
from coursegen.stack.supervisor import Stack


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def credentials(database_url: str, company_id: uuid.UUID) -> tuple[str, str]:
    """(API key, session cookie) of a user of the company."""
    db = Database(await connect(database_url))
    key, prefix, key_hash = new_api_key()
    token = secrets.token_urlsafe(32)
    try:
        async with db.transaction(company_id) as conn:
            user = await create_user(
                conn,
                company_id=company_id,
                email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                name="bench",
                password_hash=hash_password("bench-password"),
            )
            await create_api_key(conn, company_id=company_id, name="bench", prefix=prefix, key_hash=key_hash)
            await create_session(
                conn,
                token_hash=digest(token),
                user=user,
                csrf_token="x",
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
    finally:
        await db.close()
    return key, token


async def wait_for(api: httpx.AsyncClient, job_id: str, *, done: bool, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await api.get(f"/api/v1/jobs/{job_id}")
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            status = body["job"]["status"]
            finished = status in ("completed", "completed_with_errors", "failed", "cancelled")
            # Not waiting for the end: a short job may already be over by the first look.
            if finished or (not done and status == "running"):
                return body
        await asyncio.sleep(0.5)
    raise TimeoutError(f"job {job_id} did not get there in {timeout} s")


async def stream(url: str, headers: dict[str, str], counts: list[int], opened: asyncio.Event, index: int) -> None:
    async with httpx.AsyncClient(timeout=None) as client, client.stream("GET", url, headers=headers) as response:
        opened.set()
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                counts[index] += 1
            if line == "event: end":
                return


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) >= 2 else float("nan")


async def main(args: argparse.Namespace) -> None:
    root = Path(args.data_dir or tempfile.mkdtemp(prefix="coursegen-bench-gateway-"))
    os.environ["COURSEGEN_OFFLINE_LATENCY_SECONDS"] = str(args.latency)
    settings = Settings(_env_file=None, nats_url=None, database_url=None, data_dir=root)  # type: ignore[call-arg]
    port = free_port()
    with Stack(settings) as stack:
        stack.start_services(gateway_port=port)
        stack.wait_ready(timeout=180)
        gateway = psutil.Process(stack.process("gateway").pid)
        base = f"http://127.0.0.1:{port}"
        company_id = await seed(stack.database_url, args.employees)
        key, session = await credentials(stack.database_url, company_id)
        auth = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as api:
            employees = (await api.get("/api/v1/employees", params={"limit": 1})).json()["items"]
            first = await api.post("/api/v1/jobs", json={"employees": "selected", "employee_ids": [employees[0]["id"]]})
            await wait_for(api, first.json()["job_id"], done=True)
            course_id = (await api.get("/api/v1/courses")).json()["items"][0]["course_id"]
            rss_idle = gateway.memory_info().rss

            job_id = (await api.post("/api/v1/jobs", json={"employees": "all"})).json()["job_id"]
            await wait_for(api, job_id, done=False)
            counts = [0] * args.streams
            opened = [asyncio.Event() for _ in range(args.streams)]
            url = f"{base}/api/v1/jobs/{job_id}/events"
            streams = [asyncio.create_task(stream(url, auth, counts, opened[i], i)) for i in range(args.streams)]
            await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 60)
            rss_streams = gateway.memory_info().rss

            page_times: list[float] = []
            api_times: list[float] = []
            cpu_before = gateway.cpu_times()
            deadline = time.monotonic() + args.seconds

            async def reader(n: int) -> None:
                async with httpx.AsyncClient(base_url=base, timeout=60, cookies={"cg_session": session}) as browser:
                    while time.monotonic() < deadline:
                        started = time.perf_counter()
                        if n % 2:
                            r = await browser.get(f"/courses/{course_id}")
                            page_times.append(time.perf_counter() - started)
                        else:
                            r = await api.get(f"/api/v1/jobs/{job_id}")
                            api_times.append(time.perf_counter() - started)
                        r.raise_for_status()
                        await asyncio.sleep(args.pause)

            await asyncio.gather(*(reader(n) for n in range(args.readers)))
            cpu_after = gateway.cpu_times()
            rss_load = gateway.memory_info().rss
            events = sum(counts)
            alive = sum(1 for t in streams if not t.done())
            for task in streams:
                task.cancel()
            await asyncio.gather(*streams, return_exceptions=True)

    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    print(
        f"gateway under load: {args.streams} event streams open on a running job, {args.readers} readers, "
        f"{args.seconds:.0f} s, offline model ({args.latency} s per call), {os.cpu_count()} cores"
    )
    print(
        f"  course page      GET /courses/ID       n={len(page_times):5d}  p50 {pct(page_times, 50):7.1f} ms  "
        f"p95 {pct(page_times, 95):7.1f} ms"
    )
    print(
        f"  job API          GET /api/v1/jobs/ID   n={len(api_times):5d}  p50 {pct(api_times, 50):7.1f} ms  "
        f"p95 {pct(api_times, 95):7.1f} ms"
    )
    print(f"  event streams    {alive} of {args.streams} still open at the end, {events} SSE events received")
    print(
        f"  gateway memory   {rss_idle / 2**20:.0f} MiB idle, {rss_streams / 2**20:.0f} MiB with the streams open, "
        f"{rss_load / 2**20:.0f} MiB under load; CPU {cpu:.1f} s in {args.seconds:.0f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--employees", type=int, default=60, help="of the long job the streams watch")
    parser.add_argument("--latency", type=float, default=0.2, help="offline model's pause per call (s)")
    parser.add_argument("--pause", type=float, default=0.02, help="each reader's pause between requests (s)")
    parser.add_argument("--data-dir", help="where the embedded servers keep their data (default: a new temp folder)")
    run(main(parser.parse_args()))
