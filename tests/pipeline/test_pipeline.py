"""The whole pipeline on real nats-server and PostgreSQL: a job in, one course per employee out."""

from __future__ import annotations

from typing import Any

import asyncpg

from coursegen.shared.settings import Settings
from coursegen.shared.subjects import MODULE_STAGES
from tests.helpers import make_company, pipeline, request_job, wait_for_job


async def test_a_job_produces_one_assembled_course_per_employee(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, employees = await make_company(db)
    async with pipeline(settings):
        job_id = await request_job(settings, company_id)
        job = await wait_for_job(db, job_id)

    assert job["status"] == "completed"
    assert job["progress_percentage"] == 100
    assert job["successful_courses"] == len(employees) and job["failed_courses"] == 0
    courses = await db.fetch("SELECT * FROM assembled_courses WHERE job_id = $1", job_id)
    assert sorted(c["employee_id"] for c in courses) == sorted(employees.values())
    for course in courses:
        assert course["total_modules"] >= 1
        assert f"# {course['title']}" in course["markdown"]
        assert len(course["course"]["modules"]) == course["total_modules"]

    # Every stage of every module is recorded in cm_agent_handoffs, with the trace context's id.
    modules = await db.fetch("SELECT session_id, total_modules FROM cm_course_plans WHERE job_id = $1", job_id)
    for plan in modules:
        steps = await db.fetch(
            "SELECT DISTINCT to_agent, module_index FROM cm_agent_handoffs "
            "WHERE session_id = $1 AND to_agent = ANY($2)",
            plan["session_id"],
            list(MODULE_STAGES),
        )
        assert len(steps) == 6 * plan["total_modules"]
    subjects = {r["subject"] for r in await db.fetch("SELECT subject FROM cm_agent_handoffs WHERE job_id = $1", job_id)}
    assert {
        "coursegen.job.requested",
        "coursegen.job.accepted",
        "coursegen.handoff.planner",
        "coursegen.course.ready",
        "coursegen.job.completed",
    } <= subjects
    dupes = await db.fetchval(
        "SELECT count(*) FROM (SELECT event_id FROM cm_agent_handoffs GROUP BY event_id HAVING count(*) > 1) d"
    )
    assert dupes == 0
