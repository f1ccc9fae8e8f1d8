"""A poison course fails alone, with its error; after the data is fixed, resume finishes it without redoing work."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from coursegen.shared.events import JobControl
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import JOB_RESUME
from coursegen.stack.seed import EMPLOYEES
from tests.helpers import make_company, pipeline, publish_raw, request_job, wait_for, wait_for_job

pytestmark = pytest.mark.chaos


async def succeeded_units(db: asyncpg.Pool[Any], session_id: str) -> dict[tuple[str, int, int], int]:
    rows = await db.fetch(
        "SELECT stage, module_index, revision, count(*) AS runs FROM agent_runs WHERE session_id = $1 "
        "GROUP BY 1, 2, 3 HAVING bool_or(status = 'succeeded')",
        session_id,
    )
    return {(r["stage"], r["module_index"], r["revision"]): r["runs"] for r in rows}


async def test_poison_course_dead_letters_and_resumes_without_rework(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, employees = await make_company(db)
    poisoned = employees[EMPLOYEES[0].email]
    # The offline model writes English only: a course asked for in French fails at content, every time.
    await db.execute("UPDATE employees SET profile = $2 WHERE id = $1", poisoned, {"language": "fr"})
    async with pipeline(settings):
        job_id = await request_job(settings, company_id)
        job = await wait_for_job(db, job_id)

        assert job["status"] == "completed_with_errors"
        assert job["failed_employee_ids"] == [poisoned]
        assert job["successful_courses"] == len(employees) - 1 and job["failed_courses"] == 1
        assert "offline model writes English only" in job["error_message"]
        run = await db.fetchrow("SELECT * FROM course_runs WHERE job_id = $1 AND employee_id = $2", job_id, poisoned)
        assert run["status"] == "failed" and run["error_stage"] == "content"
        assert run["error_kind"] == "invalid_data" and run["error_attempts"] == settings.max_deliveries
        failed = await db.fetchval(
            "SELECT count(*) FROM cm_agent_handoffs WHERE subject = 'coursegen.stage.failed' AND session_id = $1",
            run["session_id"],
        )
        assert failed >= 1
        before = await succeeded_units(db, run["session_id"])
        assert ("planner", -1, 0) in before and any(stage == "researcher" for stage, _, _ in before)
        others_before = await db.fetchval("SELECT count(*) FROM agent_runs WHERE job_id = $1", job_id)

        await db.execute("UPDATE employees SET profile = $2 WHERE id = $1", poisoned, {"language": "en"})
        resume = JobControl(job_id=job_id, company_id=company_id)
        await publish_raw(settings, JOB_RESUME, resume.model_dump_json().encode())
        job = await wait_for_job_after_resume(db, job_id)

    assert job["status"] == "completed" and job["failed_employee_ids"] == []
    assert job["successful_courses"] == len(employees)
    after = await succeeded_units(db, run["session_id"])
    for unit, runs in before.items():
        assert after[unit] == runs, f"{unit} ran again after resume"
    new_runs = await db.fetchval("SELECT count(*) FROM agent_runs WHERE job_id = $1", job_id) - others_before
    stored_before = len(before)
    assert new_runs == len(after) - stored_before, "only the unfinished work ran"
    course = await db.fetchval("SELECT count(*) FROM assembled_courses WHERE session_id = $1", run["session_id"])
    assert course == 1


async def wait_for_job_after_resume(db: asyncpg.Pool[Any], job_id: uuid.UUID) -> dict[str, Any]:
    """Until the resumed job has ended again, with no failed employee left."""
    await wait_for(
        db,
        "SELECT 1 FROM course_generation_jobs "
        "WHERE job_id = $1 AND status = 'completed' AND failed_employee_ids = '{}'",
        job_id,
        timeout=120,
    )
    return await wait_for_job(db, job_id)
