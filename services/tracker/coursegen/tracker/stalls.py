"""Stalls: a course run with no event for too long is re-driven from its last stored output.

Re-driving replays the run's handoffs under a new epoch; every stage whose
output is stored skips its agent, so the run picks up where it stopped. One
tracker replica sweeps at a time (a PostgreSQL advisory lock).

A run only waits that long without losing anything when it sits behind a
backlog (a 500-employee job, a stage scaled to zero): its handoff is in the
stream, pending on the stage's consumer. So runs are judged stalled only while
the stage consumers have nothing pending and nothing in hand; re-driving a
queued run would only queue it twice.
"""

from __future__ import annotations

import asyncio
import logging

from nats.js.errors import NotFoundError

from coursegen.shared.jobs import resume_stalled
from coursegen.shared.service import Runtime
from coursegen.shared.store import locks, runs
from coursegen.shared.subjects import STAGES, STREAM, durable_name

log = logging.getLogger("coursegen.tracker")

SWEEP_LOCK = 0x636F7572  # any constant shared by the tracker replicas


async def backlog(runtime: Runtime) -> int:
    """Handoffs the stage consumers have yet to deliver or have in hand."""
    js = runtime.broker.connection.jetstream()
    waiting = 0
    for stage in STAGES:
        try:
            info = await js.consumer_info(STREAM, durable_name(stage))
        except NotFoundError:
            continue  # no replica of that stage has started yet: nothing is queued for it
        waiting += (info.num_pending or 0) + (info.num_ack_pending or 0)
    return waiting


async def sweep(runtime: Runtime) -> int:
    """Re-drive the stalled runs once; returns how many."""
    queued = await backlog(runtime)
    if queued:
        log.debug("no stall sweep: %d handoff(s) still queued at the stages", queued)
        return 0
    async with runtime.db.connection() as conn:
        if not await locks.try_lock(conn, SWEEP_LOCK):
            return 0
        try:
            stalled = await runs.stalled_sessions(conn, quiet_seconds=runtime.settings.stall_after_seconds)
            if not stalled:
                return 0
            log.warning("re-driving %d stalled course run(s)", len(stalled))
            return await resume_stalled(conn, runtime.bus, stalled)
        finally:
            await locks.unlock(conn, SWEEP_LOCK)


async def watch_for_stalls(runtime: Runtime) -> None:
    every = max(1.0, min(60.0, runtime.settings.stall_after_seconds / 4))
    while True:
        await asyncio.sleep(every)
        await sweep(runtime)
