"""Two deliveries of one unit of work: one agent runs, and neither is acked before the work is stored.

A redelivery is the same JetStream message as the copy still at work: acking
it settles that copy too. So a delivery that finds the work under way waits for
it, and does it itself when the worker at it dies.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg

from coursegen.shared.consume import settle
from coursegen.shared.events import Handoff
from coursegen.shared.settings import Settings
from coursegen.stack.seed import EMPLOYEES
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import IN_MEMORY_RETRY, accept_in_memory, in_memory_handler, make_company


@dataclass
class CheckedDelivery(FakeDelivery):
    """Notes, when acked, whether the plan it asks for was stored by then."""

    db: Any = None
    session_id: str = ""

    async def ack(self) -> None:
        stored = await self.db.fetchval("SELECT count(*) FROM cm_course_plans WHERE session_id = $1", self.session_id)
        self.settled.append(f"ack, plans stored: {stored}")


async def planner_handoff(settings: Settings, db: asyncpg.Pool[Any]) -> tuple[Handoff, Any]:
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    bus = RecordingBus()
    await accept_in_memory(settings, db, bus, company_id, list(employees.values()))
    handoff = next(e for _, e in bus.published if isinstance(e, Handoff))
    return handoff, in_memory_handler("planner", settings, db, bus)


def deliveries(handoff: Handoff, db: asyncpg.Pool[Any], count: int) -> list[CheckedDelivery]:
    body = handoff.model_dump_json().encode()
    return [
        CheckedDelivery("coursegen.handoff.planner", body, attempt=n, db=db, session_id=handoff.session_id)
        for n in range(1, count + 1)
    ]


async def planner_runs(db: asyncpg.Pool[Any], handoff: Handoff) -> list[str]:
    rows = await db.fetch("SELECT status FROM agent_runs WHERE session_id = $1 AND stage = 'planner'",
                          handoff.session_id)  # fmt: skip
    return [r["status"] for r in rows]


async def test_two_deliveries_of_one_handoff_run_one_agent(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    slow = settings.model_copy(update={"offline_latency_seconds": 0.3})
    handoff, planner = await planner_handoff(slow, db)
    first, redelivered = deliveries(handoff, db, 2)

    outcomes = await asyncio.gather(
        settle(first, planner.handle, retry=IN_MEMORY_RETRY, on_permanent=planner.on_permanent),
        settle(redelivered, planner.handle, retry=IN_MEMORY_RETRY, on_permanent=planner.on_permanent),
    )

    assert outcomes == ["ack", "ack"]
    # The redelivery waited for the first copy's work: it was not acked before the plan was stored.
    assert first.settled == redelivered.settled == ["ack, plans stored: 1"]
    assert await planner_runs(db, handoff) == ["succeeded"], "one agent run, and no discarded second one"


async def test_a_redelivery_does_the_work_when_the_worker_at_it_dies(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    quick_beats = settings.model_copy(update={"ack_wait_seconds": 3.0})  # a heartbeat a second
    handoff, planner = await planner_handoff(quick_beats, db)
    [redelivered] = deliveries(handoff, db, 1)
    # The first copy's worker: it holds the unit's lock, as while its agent runs.
    worker = await asyncpg.connect(quick_beats.database_url)
    await worker.execute("SELECT pg_advisory_lock($1)", planner.lock_key(handoff))

    waiting = asyncio.create_task(
        settle(redelivered, planner.handle, retry=IN_MEMORY_RETRY, on_permanent=planner.on_permanent)
    )
    await asyncio.sleep(2.5)
    assert not waiting.done() and redelivered.settled == [], "settled while the work was under way"
    assert redelivered.heartbeats >= 1, "the waiting delivery keeps its message from being redelivered again"

    await worker.close()  # the worker dies; its connection, and the lock, go with it
    assert await asyncio.wait_for(waiting, timeout=30) == "ack"
    assert redelivered.settled == ["ack, plans stored: 1"]
    assert await planner_runs(db, handoff) == ["succeeded"]
