"""Review and revise: a change request on one module reruns that module only and makes version 2."""

from __future__ import annotations

from typing import Any

import asyncpg

from coursegen.shared.events import ModuleReview
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import REVIEW_MODULE
from tests.helpers import make_company, pipeline, request_job, wait_for, wait_for_job
from tests.review._flow import FOUR_MODULES, agent_runs, send, session_of


async def test_a_change_request_reruns_only_that_module_and_makes_version_2(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    company_id, employees = await make_company(db, employees=(FOUR_MODULES,))
    employee_id = employees[FOUR_MODULES.email]
    async with pipeline(settings):
        job_id = await request_job(settings, company_id, [employee_id])
        job = await wait_for_job(db, job_id, timeout=120)
        assert job["status"] == "completed"
        session_id = await session_of(db, job_id)
        v1 = await db.fetchrow("SELECT * FROM course_versions WHERE session_id = $1", session_id)
        assert (v1["version"], v1["status"], v1["origin"]) == (1, "draft", "generated")
        assert len(v1["course"]["modules"]) == 4
        before = await agent_runs(db, session_id)

        comment = "Add a worked case on reviewing a pull request with a failing test"
        await send(
            settings,
            REVIEW_MODULE,
            ModuleReview(
                company_id=company_id,
                session_id=session_id,
                module_index=2,
                reviewer="rita",
                decision="request_changes",
                comment=comment,
            ),
        )
        await send(
            settings,
            REVIEW_MODULE,
            ModuleReview(
                company_id=company_id, session_id=session_id, module_index=0, reviewer="rita", decision="approve"
            ),
        )
        await wait_for(
            db, "SELECT 1 FROM course_versions WHERE course_id = $1 AND version = 2", v1["course_id"], timeout=90
        )
        await wait_for(
            db,
            "SELECT 1 FROM cm_agent_handoffs WHERE session_id = $1 AND subject = 'coursegen.course.drafted' "
            "AND (handoff_context ->> 'version')::int = 2",
            session_id,
        )
    after = await agent_runs(db, session_id)
    new = [r for r in after if r not in before]
    # Only module 2 went through content, quality, enhancer and multimedia again; then one assembly.
    assert {(stage, module) for stage, module, _ in new} == {
        ("content", 2),
        ("quality", 2),
        ("enhancer", 2),
        ("multimedia", 2),
        ("finalizer", -1),
    }
    assert not [r for r in new if r[0] in ("planner", "researcher")]
    tokens_elsewhere = await db.fetchval(
        "SELECT count(*) FROM agent_runs WHERE session_id = $1 AND created_at > $2 AND module_index NOT IN (2, -1)",
        session_id,
        v1["created_at"],
    )
    assert tokens_elsewhere == 0

    v2 = await db.fetchrow("SELECT * FROM course_versions WHERE course_id = $1 AND version = 2", v1["course_id"])
    assert (v2["status"], v2["origin"]) == ("draft", "change_request")
    # The comment is stored input, and the writer read it.
    stored = await db.fetchrow("SELECT * FROM review_requests WHERE session_id = $1", session_id)
    assert (stored["kind"], stored["module_index"], stored["comment"]) == ("change_request", 2, comment)
    reworked = v2["course"]["modules"][2]
    assert reworked["revision"] > v1["course"]["modules"][2]["revision"]
    for i in (0, 1, 3):
        assert v2["course"]["modules"][i] == v1["course"]["modules"][i]
    # v1 stays as it was: a version is never rewritten.
    assert (await db.fetchval("SELECT course FROM course_versions WHERE version_id = $1", v1["version_id"])) == v1[
        "course"
    ]
    actions = await db.fetch(
        "SELECT actor, action, details ->> 'module_index' AS module FROM review_audit WHERE session_id = $1 "
        "ORDER BY audit_id",
        session_id,
    )
    assert sorted((a["action"], a["module"]) for a in actions) == [
        ("module.approved", "0"),
        ("module.changes_requested", "2"),
    ]
