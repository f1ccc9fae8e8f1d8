"""A job's token budget stops its agents: the course run fails with the reason, and the job still ends."""

from __future__ import annotations

from typing import Any

import asyncpg

from coursegen.shared.settings import Settings
from tests.employees import ONE_MODULE
from tests.helpers import make_company, pipeline, request_job, wait_for_job


async def test_a_spent_budget_fails_the_course_run_for_good(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, employees = await make_company(db, employees=[ONE_MODULE])
    async with pipeline(settings):
        job_id = await request_job(settings, company_id, list(employees.values()), token_budget=500)
        job = await wait_for_job(db, job_id)

    assert job["status"] == "completed_with_errors"
    assert job["failed_courses"] == 1 and job["failed_employee_ids"] == list(employees.values())
    assert "token budget of 500 is spent" in job["error_message"]

    run = await db.fetchrow("SELECT * FROM course_runs WHERE job_id = $1", job_id)
    assert run["status"] == "failed" and run["error_kind"] == "budget_exceeded"
    assert run["error_stage"] == "researcher" and run["error_attempts"] == 1, "permanent: never retried"

    # The planner spent more than the budget; after it, no agent ran.
    agent_runs = await db.fetch("SELECT stage, input_tokens, output_tokens FROM agent_runs WHERE job_id = $1", job_id)
    assert [r["stage"] for r in agent_runs] == ["planner"]
    assert agent_runs[0]["input_tokens"] + agent_runs[0]["output_tokens"] >= 500

    failed = await db.fetch(
        "SELECT handoff_context FROM cm_agent_handoffs WHERE job_id = $1 AND subject = 'coursegen.stage.failed'",
        job_id,
    )
    assert failed and {f["handoff_context"]["kind"] for f in failed} == {"budget_exceeded"}
    assert {f["handoff_context"]["stage"] for f in failed} == {"researcher"}
