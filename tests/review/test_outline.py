"""Outline approval: a run waits for a person in the database, through a restart of every service."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from coursegen.shared.events import OutlineModule, OutlineReview
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import REVIEW_OUTLINE
from tests.helpers import make_company, pipeline, request_job, wait_for, wait_for_job
from tests.review._flow import FOUR_MODULES, send, session_of, wait_for_status


async def test_an_outline_wait_survives_a_restart_and_continues_with_the_edited_plan(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    company_id, employees = await make_company(db, employees=(FOUR_MODULES,))
    employee_id = employees[FOUR_MODULES.email]
    async with pipeline(settings):
        job_id = await request_job(settings, company_id, [employee_id], review_outline=True)
        session_id = await session_of(db, job_id)
        await wait_for_status(db, session_id, "awaiting_outline_review")
        plan = await db.fetchrow("SELECT course_structure FROM cm_course_plans WHERE session_id = $1", session_id)

    # Every service is down: the wait is a row, not a process.
    run = await db.fetchrow("SELECT status, current_stage FROM course_runs WHERE session_id = $1", session_id)
    assert (run["status"], run["current_stage"]) == ("awaiting_outline_review", "planner")
    assert await db.fetchval("SELECT status FROM course_generation_jobs WHERE job_id = $1", job_id) == "running"
    assert await db.fetchval("SELECT count(*) FROM research_findings WHERE session_id = $1", session_id) == 0

    planned = plan["course_structure"]["modules"]
    assert len(planned) == 4
    # The reviewer reorders (Python first), removes the Git/SQL module, edits an objective, adds a module.
    edited = [
        OutlineModule(
            title=planned[1]["title"],
            skills=planned[1]["skills"],
            objectives=["Write idiomatic Python for the team's services"],
        ),
        OutlineModule(title=planned[0]["title"], skills=planned[0]["skills"], objectives=planned[0]["objectives"]),
        OutlineModule(title="Testing in depth", skills=["Testing"], objectives=["Write tests that catch regressions"]),
    ]
    async with pipeline(settings):
        # A restart changes nothing: still waiting, and the job does not complete.
        assert await db.fetchval("SELECT status FROM course_runs WHERE session_id = $1", session_id) == (
            "awaiting_outline_review"
        )
        await send(
            settings,
            REVIEW_OUTLINE,
            OutlineReview(
                company_id=company_id,
                session_id=session_id,
                reviewer="rita.reviewer",
                decision="approve",
                modules=edited,
            ),
        )
        job = await wait_for_job(db, job_id, timeout=120)

    assert job["status"] == "completed"
    course = await db.fetchrow("SELECT course FROM assembled_courses WHERE session_id = $1", session_id)
    modules = course["course"]["modules"]
    assert [m["title"] for m in modules] == [m.title for m in edited]
    assert modules[0]["objectives"] == ["Write idiomatic Python for the team's services"]
    # Research ran for the edited modules only.
    assert await db.fetchval("SELECT count(*) FROM research_findings WHERE session_id = $1", session_id) == 3
    version = await db.fetchrow("SELECT version, status, origin FROM course_versions WHERE session_id = $1", session_id)
    assert dict(version) == {"version": 1, "status": "draft", "origin": "generated"}
    audit = await db.fetch("SELECT actor, action, details FROM review_audit WHERE session_id = $1", session_id)
    assert [(a["actor"], a["action"]) for a in audit] == [("rita.reviewer", "outline.approved")]
    assert audit[0]["details"]["edited"] is True


async def test_a_rejected_outline_is_replanned_with_the_comment_and_waits_again(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    company_id, employees = await make_company(db, employees=(FOUR_MODULES,))
    employee_id = employees[FOUR_MODULES.email]
    other_company, _ = await make_company(db, employees=())
    async with pipeline(settings):
        job_id = await request_job(settings, company_id, [employee_id], review_outline=True)
        session_id = await session_of(db, job_id)
        await wait_for_status(db, session_id, "awaiting_outline_review")

        # Another company's reviewer: refused and recorded, and the run does not move.
        forged = OutlineReview(
            company_id=other_company, session_id=session_id, reviewer="mallory", decision="reject", comment="x"
        )
        await send(settings, REVIEW_OUTLINE, forged)
        await wait_for(
            db,
            "SELECT 1 FROM rejected_messages WHERE subject = $1 AND payload LIKE '%' || $2 || '%'",
            REVIEW_OUTLINE,
            str(forged.event_id),
        )
        refusal = await wait_for(
            db,
            "SELECT error_details FROM cm_agent_handoffs WHERE subject = 'coursegen.stage.failed' "
            "AND handoff_context ->> 'kind' = 'tenant_mismatch' AND handoff_context ->> 'subject' = $1",
            REVIEW_OUTLINE,
        )
        assert str(company_id) not in refusal

        comment = "Start with hands-on Python before any review practice"
        await send(
            settings,
            REVIEW_OUTLINE,
            OutlineReview(
                company_id=company_id, session_id=session_id, reviewer="rita", decision="reject", comment=comment
            ),
        )
        await wait_for(db, "SELECT 1 FROM cm_course_plans WHERE session_id = $1 AND revision = 1", session_id)
        await wait_for_status(db, session_id, "awaiting_outline_review")
        summary = await db.fetchval(
            "SELECT course_structure ->> 'summary' FROM cm_course_plans WHERE session_id = $1", session_id
        )
        assert comment in summary
        assert (
            await db.fetchval(
                "SELECT comment FROM review_requests WHERE session_id = $1 AND kind = 'replan'", session_id
            )
            == comment
        )
        # A bad command (approve with an empty outline) is refused with a reason; the run still waits.
        bad = OutlineReview(
            company_id=company_id, session_id=session_id, reviewer="rita", decision="approve", modules=[]
        )
        await send(settings, REVIEW_OUTLINE, bad)
        reason = await wait_for(
            db, "SELECT reason FROM rejected_messages WHERE payload LIKE '%' || $1 || '%'", str(bad.event_id)
        )
        assert "at least one module" in reason
        await send(
            settings,
            REVIEW_OUTLINE,
            OutlineReview(company_id=company_id, session_id=session_id, reviewer="rita", decision="approve"),
        )
        job = await wait_for_job(db, job_id, timeout=120)
    assert job["status"] == "completed"
    planner_runs = await db.fetch(
        "SELECT revision FROM agent_runs WHERE session_id = $1 AND stage = 'planner' AND status = 'succeeded' "
        "ORDER BY revision",
        session_id,
    )
    assert [r["revision"] for r in planner_runs] == [0, 1]
    actions = await db.fetch("SELECT action FROM review_audit WHERE session_id = $1 ORDER BY audit_id", session_id)
    assert [a["action"] for a in actions] == ["outline.rejected", "outline.approved"]
    assert uuid.UUID(str(job["job_id"])) == job_id
