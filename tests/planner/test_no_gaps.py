"""An employee who already meets the role gets no course, says why, and does not hold up the job."""

from __future__ import annotations

from typing import Any

import asyncpg

from coursegen.shared.settings import Settings
from tests.employees import NO_GAPS, ONE_MODULE
from tests.helpers import make_company, pipeline, request_job, wait_for_job


async def test_an_employee_without_gaps_gets_an_empty_plan_and_the_job_completes(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    company_id, employees = await make_company(db, employees=[NO_GAPS, ONE_MODULE])
    no_gaps = employees[NO_GAPS.email]
    async with pipeline(settings):
        job_id = await request_job(settings, company_id, list(employees.values()))
        job = await wait_for_job(db, job_id)

    assert job["status"] == "completed" and job["progress_percentage"] == 100
    assert job["failed_courses"] == 0 and job["statistics"]["no_gaps"] == 1

    run = await db.fetchrow("SELECT * FROM course_runs WHERE job_id = $1 AND employee_id = $2", job_id, no_gaps)
    assert run["status"] == "no_gaps" and run["modules_total"] == 0 and run["completed_at"] is not None
    plan = await db.fetchrow("SELECT * FROM cm_course_plans WHERE session_id = $1", run["session_id"])
    assert plan["total_modules"] == 0 and plan["course_structure"]["modules"] == []
    assert plan["prioritized_gaps"] == [] and plan["learning_path"] == []

    skipped = await db.fetch(
        "SELECT handoff_context FROM cm_agent_handoffs WHERE session_id = $1 AND subject = 'coursegen.course.skipped'",
        run["session_id"],
    )
    assert len(skipped) == 1 and skipped[0]["handoff_context"]["reason"] == "no skill gaps for the target role"
    stages = {
        r["stage"] for r in await db.fetch("SELECT stage FROM agent_runs WHERE session_id = $1", run["session_id"])
    }
    assert stages == {"planner"}, "nothing runs after an empty plan"
    assert await db.fetchval("SELECT count(*) FROM assembled_courses WHERE session_id = $1", run["session_id"]) == 0

    # The other employee's course is unaffected.
    other = await db.fetchrow(
        "SELECT * FROM course_runs WHERE job_id = $1 AND employee_id = $2", job_id, employees[ONE_MODULE.email]
    )
    assert other["status"] == "completed" and other["modules_total"] == 1
