"""Holes that had one root, each closed and kept closed: runs that always end, budgets of any size,
tokens that are always counted, and jobs of any size accepted or rejected, never both."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import pytest
from pydantic import ValidationError

from coursegen.shared.consume import settle
from coursegen.shared.errors import PermanentError
from coursegen.shared.events import CourseSkipped, Event, Handoff, JobAccepted, JobRejected, JobRequested
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import COURSE_SKIPPED, JOB_REQUESTED
from coursegen.stack.seed import EMPLOYEES
from tests.employees import NO_GAPS
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import IN_MEMORY_RETRY, accept_in_memory, in_memory_handler, make_company


class FlakyBus(RecordingBus):
    """Refuses the first publish on one subject, as a bus away for a moment would."""

    def __init__(self, subject: str) -> None:
        super().__init__()
        self.subject = subject
        self.refused = 0

    async def publish(self, subject: str, event: Event, *, headers: Mapping[str, str] | None = None) -> None:
        if subject == self.subject and not self.refused:
            self.refused += 1
            raise ConnectionError("the bus is away")
        await super().publish(subject, event, headers=headers)


async def deliver(handler: Any, subject: str, body: bytes, attempt: int = 1) -> str:
    delivery = FakeDelivery(subject, body, attempt=attempt)
    return await settle(delivery, handler.handle, retry=IN_MEMORY_RETRY, on_permanent=handler.on_permanent)


async def test_a_run_without_gaps_republishes_its_skip_until_it_is_out(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    company_id, employees = await make_company(db, employees=[NO_GAPS])
    bus = FlakyBus(COURSE_SKIPPED)
    await accept_in_memory(settings, db, bus, company_id, list(employees.values()))
    handoff = next(e for _, e in bus.published if isinstance(e, Handoff))
    planner = in_memory_handler("planner", settings.model_copy(update={"outage_retry_seconds": 0}), db, bus)
    body = handoff.model_dump_json().encode()

    # The plan is stored and the run closed, then publishing course.skipped fails: the message comes back.
    assert await deliver(planner, "coursegen.handoff.planner", body) == "nak"
    assert await db.fetchval("SELECT status FROM course_runs WHERE session_id = $1", handoff.session_id) == "no_gaps"
    # The redelivery must not be dropped for the run having ended: it publishes the skip.
    assert await deliver(planner, "coursegen.handoff.planner", body, attempt=2) == "ack"
    assert [e for _, e in bus.published if isinstance(e, CourseSkipped)], "course.skipped never went out"
    assert await db.fetchval("SELECT count(*) FROM agent_runs WHERE session_id = $1", handoff.session_id) == 1


async def test_a_token_budget_beyond_32_bits_works(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    bus = RecordingBus()
    coordinator = in_memory_handler("coordinator", settings, db, bus)
    budget = 2**40
    request = JobRequested(job_id=uuid.uuid4(), company_id=company_id, employee_ids=list(employees.values()),
                           token_budget=budget)  # fmt: skip
    assert await deliver(coordinator, JOB_REQUESTED, request.model_dump_json().encode()) == "ack"
    handoff = next(e for _, e in bus.published if isinstance(e, Handoff))
    planner = in_memory_handler("planner", settings, db, bus)

    assert await deliver(planner, "coursegen.handoff.planner", handoff.model_dump_json().encode()) == "ack"
    assert await db.fetchval("SELECT count(*) FROM cm_course_plans WHERE session_id = $1", handoff.session_id) == 1
    stored = await db.fetchval(
        "SELECT (job_config->>'token_budget')::bigint FROM course_generation_jobs WHERE job_id = $1", request.job_id
    )
    assert stored == budget


def test_a_budget_beyond_64_bits_is_refused_at_the_edge() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 9223372036854775807"):
        JobRequested(company_id=uuid.uuid4(), all_employees=True, token_budget=2**63)


async def test_an_agent_run_whose_store_fails_still_records_its_tokens(
    settings: Settings, db: asyncpg.Pool[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import coursegen.planner.app as planner_app

    async def broken_insert(*args: object, **kwargs: object) -> None:
        raise ValueError("the plan does not fit")

    monkeypatch.setattr(planner_app.plans, "insert_plan", broken_insert)
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    bus = RecordingBus()
    await accept_in_memory(settings, db, bus, company_id, list(employees.values()))
    handoff = next(e for _, e in bus.published if isinstance(e, Handoff))
    planner = in_memory_handler("planner", settings, db, bus)

    assert await deliver(planner, "coursegen.handoff.planner", handoff.model_dump_json().encode()) == "term"

    [run] = await db.fetch("SELECT * FROM agent_runs WHERE session_id = $1", handoff.session_id)
    assert run["status"] == "failed" and "the plan does not fit" in run["error"]
    assert run["input_tokens"] > 0 and run["output_tokens"] > 0 and run["turns"] >= 2


async def test_a_job_over_the_employee_cap_is_rejected_whole(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, employees = await make_company(db, employees=EMPLOYEES)
    bus = RecordingBus()
    capped = settings.model_copy(update={"max_employees_per_job": 2})
    coordinator = in_memory_handler("coordinator", capped, db, bus)
    for request in (
        JobRequested(company_id=company_id, employee_ids=list(employees.values())),
        JobRequested(company_id=company_id, all_employees=True),
    ):
        assert await deliver(coordinator, JOB_REQUESTED, request.model_dump_json().encode()) == "ack"
    rejections = [e for _, e in bus.published if isinstance(e, JobRejected)]
    assert len(rejections) == 2
    assert all("3 employees is more than one job may ask for (2)" in r.reason for r in rejections)
    assert not [e for _, e in bus.published if isinstance(e, JobAccepted)], "never both accepted and rejected"
    assert await db.fetchval("SELECT count(*) FROM course_generation_jobs WHERE company_id = $1", company_id) == 0


async def test_job_accepted_carries_a_count_whatever_the_size(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, employees = await make_company(db, employees=EMPLOYEES)
    bus = RecordingBus()
    await accept_in_memory(settings, db, bus, company_id, list(employees.values()))
    [accepted] = [e for _, e in bus.published if isinstance(e, JobAccepted)]
    assert accepted.employees == 3
    assert set(accepted.model_dump()) == {
        "event_id", "job_id", "company_id", "occurred_at", "source", "request_event_id", "employees",
    }  # fmt: skip


async def test_a_failure_after_the_job_exists_is_never_a_rejection(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    bus = RecordingBus()
    request = await accept_in_memory(settings, db, bus, company_id, list(employees.values()))
    coordinator = in_memory_handler("coordinator", settings, db, bus)
    await coordinator.on_permanent(FakeDelivery(JOB_REQUESTED, request.model_dump_json().encode()), PermanentError("x"))
    assert not [e for _, e in bus.published if isinstance(e, JobRejected)]
