"""Tenancy from the record, never the message: a handoff or a control event that disagrees is refused."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from coursegen.coordinator.control import ControlHandler
from coursegen.shared import stage
from coursegen.shared.consume import settle
from coursegen.shared.events import Handoff, JobControl, JobRejected, JobRequested, StageFailed
from coursegen.shared.service import Runtime
from coursegen.shared.settings import Settings
from coursegen.shared.store import COMPANY_SETTING, Connection, Database
from coursegen.shared.store import people as people_store
from coursegen.shared.subjects import JOB_CANCEL, JOB_REQUESTED, JOB_RESUME
from coursegen.stack.seed import EMPLOYEES
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import IN_MEMORY_RETRY, accept_in_memory, in_memory_handler, make_company


async def deliver(handler: Any, subject: str, body: bytes) -> str:
    delivery = FakeDelivery(subject, body)
    return await settle(delivery, handler.handle, retry=IN_MEMORY_RETRY, on_permanent=handler.on_permanent)


async def test_a_handoff_naming_another_company_is_refused_and_recorded(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    other_company, _ = await make_company(db, employees=EMPLOYEES[1:2])
    bus = RecordingBus()
    await accept_in_memory(settings, db, bus, company_id, list(employees.values()))
    handoff = next(e for _, e in bus.published if isinstance(e, Handoff))
    forged = handoff.model_copy(update={"company_id": other_company, "event_id": uuid.uuid4()})
    planner = in_memory_handler("planner", settings, db, bus)

    assert await deliver(planner, "coursegen.handoff.planner", forged.model_dump_json().encode()) == "term"

    # Never processed: no agent ran, nothing was stored, and the run is untouched (not failed).
    assert await db.fetchval("SELECT count(*) FROM agent_runs WHERE session_id = $1", handoff.session_id) == 0
    assert await db.fetchval("SELECT count(*) FROM cm_course_plans WHERE session_id = $1", handoff.session_id) == 0
    assert await db.fetchval("SELECT status FROM course_runs WHERE session_id = $1", handoff.session_id) == "pending"
    # Recorded, with the reason, and said on the bus without naming the run or the other company.
    reason = await db.fetchval(
        "SELECT reason FROM rejected_messages WHERE payload LIKE '%' || $1 || '%'", str(forged.event_id)
    )
    assert reason is not None and "does not belong to" in reason
    [failed] = [e for _, e in bus.published if isinstance(e, StageFailed)]
    assert failed.kind == "tenant_mismatch" and failed.session_id is None and failed.company_id is None

    # The genuine handoff still does its work.
    assert await deliver(planner, "coursegen.handoff.planner", handoff.model_dump_json().encode()) == "ack"
    assert await db.fetchval("SELECT count(*) FROM cm_course_plans WHERE session_id = $1", handoff.session_id) == 1


async def test_a_handoff_for_a_run_that_does_not_exist_is_refused(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    bus = RecordingBus()
    made_up = Handoff.create(
        stage="researcher",
        from_stage="planner",
        job_id=uuid.uuid4(),
        company_id=uuid.uuid4(),
        employee_id=uuid.uuid4(),
        session_id=f"nope-{uuid.uuid4().hex}",
        module_index=0,
    )
    researcher = in_memory_handler("researcher", settings, db, bus)
    assert await deliver(researcher, "coursegen.handoff.researcher", made_up.model_dump_json().encode()) == "term"
    [failed] = [e for _, e in bus.published if isinstance(e, StageFailed)]
    assert failed.kind == "tenant_mismatch"


async def test_a_request_reusing_another_companys_event_id_is_rejected(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    ours, our_people = await make_company(db, employees=EMPLOYEES[:1])
    theirs, their_people = await make_company(db, employees=EMPLOYEES[1:2])
    bus = RecordingBus()
    first = await accept_in_memory(settings, db, bus, ours, list(our_people.values()))
    coordinator = in_memory_handler("coordinator", settings, db, bus)
    replay = JobRequested(event_id=first.event_id, company_id=theirs, employee_ids=list(their_people.values()))

    assert await deliver(coordinator, JOB_REQUESTED, replay.model_dump_json().encode()) == "ack"

    [rejected] = [e for _, e in bus.published if isinstance(e, JobRejected)]
    assert "already used" in rejected.reason and str(ours) not in rejected.reason
    assert await db.fetchval("SELECT count(*) FROM course_generation_jobs WHERE company_id = $1", theirs) == 0
    # Our job is as it was: still one run, of our employee.
    assert await db.fetchval("SELECT count(*) FROM course_runs WHERE job_id = $1", first.job_id) == 1


async def test_cancel_and_resume_from_another_company_do_nothing(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    ours, our_people = await make_company(db, employees=EMPLOYEES[:1])
    theirs, _ = await make_company(db, employees=EMPLOYEES[1:2])
    bus = RecordingBus()
    request = await accept_in_memory(settings, db, bus, ours, list(our_people.values()))
    handler = ControlHandler(Runtime("coordinator", settings, Database(db), bus, None))  # type: ignore[arg-type]
    for subject in (JOB_CANCEL, JOB_RESUME):
        foreign = JobControl(job_id=request.job_id, company_id=theirs, reason="not yours")
        assert await deliver(handler, subject, foreign.model_dump_json().encode()) == "term"
        anonymous = JobControl(job_id=request.job_id, reason="who?")
        assert await deliver(handler, subject, anonymous.model_dump_json().encode()) == "term"
    assert await db.fetchval("SELECT status FROM course_generation_jobs WHERE job_id = $1", request.job_id) == "pending"
    failures = [e for _, e in bus.published if isinstance(e, StageFailed)]
    assert len(failures) == 4 and all(f.job_id is None for f in failures), "nothing said about the job"

    # The job's own company may cancel it.
    own = JobControl(job_id=request.job_id, company_id=ours, reason="done with it")
    assert await deliver(handler, JOB_CANCEL, own.model_dump_json().encode()) == "ack"
    assert await db.fetchval("SELECT status FROM course_generation_jobs WHERE job_id = $1", request.job_id) == (
        "cancelled"
    )


async def test_a_request_naming_a_used_job_id_learns_nothing_of_whose_it_is(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    ours, our_people = await make_company(db, employees=EMPLOYEES[:1])
    theirs, their_people = await make_company(db, employees=EMPLOYEES[1:2])
    bus = RecordingBus()
    first = await accept_in_memory(settings, db, bus, ours, list(our_people.values()))
    coordinator = in_memory_handler("coordinator", settings, db, bus)
    reasons = []
    for company, people in ((theirs, their_people), (ours, our_people)):
        bus.published.clear()
        request = JobRequested(company_id=company, employee_ids=list(people.values()), job_id=first.job_id)
        assert await deliver(coordinator, JOB_REQUESTED, request.model_dump_json().encode()) == "ack"
        [rejected] = [e for _, e in bus.published if isinstance(e, JobRejected)]
        reasons.append(rejected.reason)
    assert reasons[0] == reasons[1], "another company's job id is refused in the same words as one's own"
    assert "cannot be used" in reasons[0] and str(ours) not in reasons[0]
    assert await db.fetchval("SELECT count(*) FROM course_generation_jobs WHERE company_id = $1", theirs) == 0
    assert await db.fetchval("SELECT count(*) FROM course_runs WHERE job_id = $1", first.job_id) == 1


async def test_a_stage_works_for_the_runs_company_only(
    settings: Settings, db: asyncpg.Pool[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the run is loaded, the stage's own statements and its agent's tools run scoped to the run's
    company (row-level security), so no query of its work can reach another company's rows."""
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    other_company, others = await make_company(db, employees=EMPLOYEES[1:2])
    bus = RecordingBus()
    await accept_in_memory(settings, db, bus, company_id, list(employees.values()))
    handoff = next(e for _, e in bus.published if isinstance(e, Handoff))
    scopes: dict[str, list[str]] = {"stage": [], "tool": []}
    start_stage, employee_profile = stage.start_stage, people_store.employee_profile

    async def scope_of(conn: Connection) -> str:
        return str(await conn.fetchval("SELECT current_setting($1, true)", COMPANY_SETTING))

    async def starting(conn: Connection, *args: Any, **kwargs: Any) -> bool:
        scopes["stage"].append(await scope_of(conn))
        return await start_stage(conn, *args, **kwargs)

    async def profile(conn: Connection, company: uuid.UUID, employee: uuid.UUID) -> Any:
        scopes["tool"].append(await scope_of(conn))
        # Asked, by whatever mistake, for another company's employee: under the run's scope, there is none.
        assert await employee_profile(conn, other_company, next(iter(others.values()))) is None
        return await employee_profile(conn, company, employee)

    monkeypatch.setattr(stage, "start_stage", starting)
    monkeypatch.setattr(people_store, "employee_profile", profile)
    planner = in_memory_handler("planner", settings, db, bus)

    assert await deliver(planner, "coursegen.handoff.planner", handoff.model_dump_json().encode()) == "ack"
    assert scopes["stage"] == [str(company_id)]
    assert scopes["tool"] and set(scopes["tool"]) == {str(company_id)}
    assert await db.fetchval("SELECT count(*) FROM cm_course_plans WHERE session_id = $1", handoff.session_id) == 1
    # The connection goes back to the pool unscoped.
    async with db.acquire() as conn:
        assert await scope_of(conn) == ""
