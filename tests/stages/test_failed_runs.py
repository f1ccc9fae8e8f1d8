"""A run that fails part-way still accounts for what its model calls spent."""

from __future__ import annotations

from typing import Any

import asyncpg

from coursegen.shared.consume import settle
from coursegen.shared.events import Handoff
from coursegen.shared.settings import Settings
from coursegen.shared.store.agent_runs import tokens_used
from coursegen.stack.seed import EMPLOYEES
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import IN_MEMORY_RETRY, accept_in_memory, in_memory_handler, make_company


async def test_a_run_out_of_turns_records_the_tokens_it_spent(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    # The planner's policy calls its tools first and answers on a later turn: one turn is not enough.
    one_turn = settings.model_copy(update={"max_turns": 1})
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    bus = RecordingBus()
    request = await accept_in_memory(one_turn, db, bus, company_id, list(employees.values()))
    handoff = next(e for _, e in bus.published if isinstance(e, Handoff))
    planner = in_memory_handler("planner", one_turn, db, bus)
    delivery = FakeDelivery("coursegen.handoff.planner", handoff.model_dump_json().encode())

    assert await settle(delivery, planner.handle, retry=IN_MEMORY_RETRY, on_permanent=planner.on_permanent) == "term"

    [run] = await db.fetch("SELECT * FROM agent_runs WHERE session_id = $1", handoff.session_id)
    assert run["status"] == "failed" and "MaxTurnsExceeded" in run["error"]
    assert run["turns"] == 1 and run["requests"] == 1 and run["tool_calls"] >= 1
    assert run["input_tokens"] > 0 and run["output_tokens"] > 0
    # What failed runs spent counts against the job's token budget.
    assert await tokens_used(db, request.job_id) == run["input_tokens"] + run["output_tokens"]
    course_run = await db.fetchrow("SELECT * FROM course_runs WHERE session_id = $1", handoff.session_id)
    assert course_run["status"] == "failed" and course_run["error_stage"] == "planner"
