"""The floor of the peers benchmark: the course shape in one asyncio process, asyncpg and JetStream only.

Per handoff: one JetStream publish (with a ``Nats-Msg-Id``, awaiting the
server's ack), one pull delivery, one row written under its unique key, one
ack. The finalizer joins the modules as coursegen's does: each module's
arrival stores its row, and the arrival that completes the set stores the
course's row (its unique key makes that happen once).

Run by ``peers.py``: it prints ``ready`` once its stream, consumer and
connections exist, starts on a line on stdin, and prints one JSON line with
its figures when every course is finalized.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from coursegen.shared.store import bench as bench_store
from coursegen.shared.store import connect

PEER = "floor"
MODULE_STEPS = ("researcher", "content", "quality", "enhancer", "multimedia", "finalizer")
CONCURRENCY = 16


async def main(args: argparse.Namespace) -> None:
    modules: list[int] = json.loads(args.modules)
    tag = uuid.uuid4().hex[:12]
    subject = f"benchfloor.{tag}"
    nc = await nats.connect(args.nats_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=f"BENCHFLOOR_{tag}", subjects=[f"{subject}.>"]))
    sub = await js.pull_subscribe(
        f"{subject}.>", durable="floor", config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=60)
    )
    pool = await connect(args.database_url, min_size=CONCURRENCY, max_size=CONCURRENCY)
    connections: asyncio.Queue[Any] = asyncio.Queue()
    for _ in range(CONCURRENCY):
        connections.put_nowait(await pool.acquire())
    finalized = 0
    handoffs = 0
    done = asyncio.Event()

    async def hand_off(step: str, run_key: str, module_index: int, count: int) -> None:
        nonlocal handoffs
        body = json.dumps({"run": run_key, "step": step, "module": module_index, "modules": count}).encode()
        msg_id = f"{run_key}:{step}:{module_index}"
        await js.publish(f"{subject}.{step}", body, headers={"Nats-Msg-Id": msg_id})
        handoffs += 1

    async def handle(msg: Any) -> None:
        nonlocal finalized
        event = json.loads(msg.data)
        run_key, step, module_index, count = event["run"], event["step"], event["module"], event["modules"]
        conn = await connections.get()
        try:
            if step == "planner":
                await bench_store.store_peer_step(
                    conn, peer=PEER, run_key=run_key, step=step, module_index=-1, output={"modules": count}
                )
                for m in range(count):
                    await hand_off("researcher", run_key, m, count)
            elif step == "finalizer":
                await bench_store.store_peer_step(
                    conn, peer=PEER, run_key=run_key, step="module-ready", module_index=module_index, output={}
                )
                ready = await bench_store.peer_modules_done(conn, peer=PEER, run_key=run_key, step="module-ready")
                if ready == count and await bench_store.store_peer_step(
                    conn, peer=PEER, run_key=run_key, step="finalizer", module_index=-1, output={"modules": count}
                ):
                    finalized += 1
                    if finalized == len(modules):
                        done.set()
            else:
                await bench_store.store_peer_step(
                    conn, peer=PEER, run_key=run_key, step=step, module_index=module_index, output={"ok": True}
                )
                await hand_off(MODULE_STEPS[MODULE_STEPS.index(step) + 1], run_key, module_index, count)
        finally:
            connections.put_nowait(conn)
        await msg.ack()

    async def consume() -> None:
        while not done.is_set():
            try:
                msgs = await sub.fetch(CONCURRENCY, timeout=1)
            except nats.errors.TimeoutError:
                continue
            await asyncio.gather(*(handle(m) for m in msgs))

    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    cpu0, t0 = time.process_time(), time.monotonic()
    for i, count in enumerate(modules):
        await hand_off("planner", f"{args.run_prefix}{i}", -1, count)
    await asyncio.wait_for(consume(), timeout=args.timeout)
    print(
        json.dumps(
            {
                "courses": finalized,
                "handoffs": handoffs,
                "seconds": time.monotonic() - t0,
                "cpu_seconds": time.process_time() - cpu0,
            }
        ),
        flush=True,
    )
    while not connections.empty():
        await pool.release(connections.get_nowait())
    await pool.close()
    await js.delete_stream(f"BENCHFLOOR_{tag}")
    await nc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--run-prefix", required=True)
    parser.add_argument("--modules", required=True, help="JSON list: modules of each course")
    parser.add_argument("--timeout", type=float, default=1800)
    asyncio.run(main(parser.parse_args()))
