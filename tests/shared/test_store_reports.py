"""The store's people and report views against a real PostgreSQL: seeding once, and one company's views only."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from coursegen.shared.accounting import job_usage
from coursegen.shared.store import Database
from coursegen.shared.store.measurements import duplicate_rows, job_throughput, rerun_spend, unfinished_runs
from coursegen.shared.store.people import company_exists
from coursegen.shared.store.reports import (
    agent_run_usage,
    companies_with_headcount,
    course_documents,
    course_run_states,
    job_output_counts,
    job_state,
)
from coursegen.shared.store.timeline import load_timeline
from coursegen.stack.seed import EMPLOYEES, ROLES, seed_company


async def _job_with_a_course(db: asyncpg.Pool[Any], company_id: uuid.UUID, employee_id: uuid.UUID) -> uuid.UUID:
    """A completed job of one course run, its course, one handoff and two agent runs (one discarded)."""
    job_id = uuid.uuid4()
    session_id = f"{job_id}:{employee_id}"
    await db.execute(
        "INSERT INTO course_generation_jobs (job_id, company_id, total_employees, status)"
        " VALUES ($1, $2, 1, 'completed')",
        job_id,
        company_id,
    )
    await db.execute(
        "INSERT INTO course_runs (session_id, job_id, company_id, employee_id, status)"
        " VALUES ($1, $2, $3, $4, 'completed')",
        session_id,
        job_id,
        company_id,
        employee_id,
    )
    await db.execute(
        "INSERT INTO assembled_courses (session_id, job_id, company_id, employee_id, title, total_modules, word_count,"
        " course, markdown) VALUES ($1, $2, $3, $4, 'T', 2, 10, '{}'::jsonb, $5)",
        session_id,
        job_id,
        company_id,
        employee_id,
        f"# course of {company_id}",
    )
    await db.execute(
        "INSERT INTO cm_agent_handoffs (event_id, subject, job_id, session_id, from_agent, to_agent)"
        " VALUES ($1, 'coursegen.handoff.finalizer', $2, $3, 'multimedia', 'finalizer')",
        uuid.uuid4(),
        job_id,
        session_id,
    )
    for status, tokens in (("succeeded", 100), ("discarded", 7)):
        await db.execute(
            "INSERT INTO agent_runs (job_id, session_id, employee_id, stage, model, status, input_tokens,"
            " output_tokens) VALUES ($1, $2, $3, 'finalizer', 'offline', $4, $5, 1)",
            job_id,
            session_id,
            employee_id,
            status,
            tokens,
        )
    return job_id


async def _company(db: Database, name: str) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    slug = f"{name}-{uuid.uuid4().hex[:8]}"
    return await seed_company(db, name=slug, slug=slug, roles=ROLES, employees=EMPLOYEES)


async def test_seeding_a_company_twice_keeps_one_company_with_its_people(db: asyncpg.Pool[Any]) -> None:
    database = Database(db)
    slug = f"once-{uuid.uuid4().hex[:8]}"
    first = await seed_company(database, name="Once", slug=slug, roles=ROLES, employees=EMPLOYEES)
    again = await seed_company(database, name="Once", slug=slug, roles=ROLES, employees=EMPLOYEES)

    assert again == first
    company_id, by_email = first
    assert set(by_email) == {e.email for e in EMPLOYEES}
    assert await db.fetchval("SELECT count(*) FROM employees WHERE company_id = $1", company_id) == len(EMPLOYEES)
    maya = by_email["maya.chen@northwind.example"]
    skills = dict(await db.fetch("SELECT skill_name, level FROM employee_skills WHERE employee_id = $1", maya))
    assert skills == EMPLOYEES[0].skills
    required = await db.fetch(
        "SELECT s.skill_name, s.required_level, s.importance FROM role_skills s JOIN roles r ON r.id = s.role_id"
        " WHERE r.company_id = $1 AND r.name = 'Data Analyst'",
        company_id,
    )
    assert {r["skill_name"]: (r["required_level"], r["importance"]) for r in required} == ROLES["Data Analyst"]
    async with database.connection() as conn:
        assert await company_exists(conn, company_id)
        assert not await company_exists(conn, uuid.uuid4())
        listed = {c.company_id: c for c in await companies_with_headcount(conn)}
    assert listed[company_id].active_employees == len(EMPLOYEES)


async def test_a_job_view_shows_its_own_company_and_nothing_of_another(db: asyncpg.Pool[Any]) -> None:
    database = Database(db)
    ours, our_people = await _company(database, "ours")
    theirs, their_people = await _company(database, "theirs")
    our_job = await _job_with_a_course(db, ours, next(iter(our_people.values())))
    await _job_with_a_course(db, theirs, next(iter(their_people.values())))

    async with database.connection() as conn:
        state = await job_state(conn, our_job)
        assert state is not None and state.company_id == ours and state.terminal
        assert [r.employee_name for r in state.runs] == ["Maya Chen"]
        counts = await job_output_counts(conn, ours, our_job)
        assert (counts.courses, counts.modules, counts.handoffs) == (1, 2, 1)
        assert [d.markdown for d in await course_documents(conn, ours, our_job)] == [f"# course of {ours}"]
        usage = await job_usage(conn, our_job, {})
        assert usage is not None and usage.total.input_tokens == 100 and usage.total.rerun_tokens == 8
        assert (await rerun_spend(conn, ours, our_job)).tokens == 8
        assert (await job_throughput(conn, ours, our_job)).handoffs == 1

        # Asked with another company, the same job has nothing at all.
        assert await course_run_states(conn, theirs, our_job) == []
        assert await course_documents(conn, theirs, our_job) == []
        assert await load_timeline(conn, theirs, our_job) is None
        assert await agent_run_usage(conn, theirs, our_job) == []
        assert await unfinished_runs(conn, theirs, our_job) == []
        counts = await job_output_counts(conn, theirs, our_job)
        assert (counts.courses, counts.modules, counts.handoffs) == (0, 0, 0)
        assert (await job_throughput(conn, theirs, our_job)).tokens == 0
        assert await job_state(conn, uuid.uuid4()) is None


async def test_duplicate_rows_refuses_a_name_that_is_not_an_identifier(db: asyncpg.Pool[Any]) -> None:
    async with Database(db).connection() as conn:
        with pytest.raises(ValueError, match="not a table or column name"):
            await duplicate_rows(conn, uuid.uuid4(), uuid.uuid4(), {"assembled_courses; DROP TABLE x": ("session_id",)})
        assert await duplicate_rows(conn, uuid.uuid4(), uuid.uuid4(), {"assembled_courses": ("session_id",)}) == 0
