"""Review, revise and publish on the real pipeline.

A change request on one module reruns that module only and makes version 2; the
published version 1 stays what the learner sees while version 2 is a draft; the
learner's progress survives publishing version 2; the audit trail has every
action; another company gets "not found" for all of it.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from coursegen.shared.events import ModuleReview
from coursegen.shared.review import actions
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database
from coursegen.shared.subjects import REVIEW_MODULE
from tests.helpers import make_company, pipeline, request_job, wait_for, wait_for_job
from tests.review._flow import FOUR_MODULES, agent_runs, send, session_of


async def test_review_revise_publish_and_learn(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    company_id, employees = await make_company(db, employees=(FOUR_MODULES,))
    employee_id = employees[FOUR_MODULES.email]
    other_company, _ = await make_company(db, employees=())
    store = Database(db)
    async with pipeline(settings):
        job_id = await request_job(settings, company_id, [employee_id])
        job = await wait_for_job(db, job_id, timeout=120)
        assert job["status"] == "completed"
        session_id = await session_of(db, job_id)
        v1 = await db.fetchrow("SELECT * FROM course_versions WHERE session_id = $1", session_id)
        assert (v1["version"], v1["status"], v1["origin"]) == (1, "draft", "generated")
        assert len(v1["course"]["modules"]) == 4
        course_id = v1["course_id"]

        # A draft is not for learners. Published (with an override when claims are flagged), it is.
        assert await actions.learner_courses(store, company_id, employee_id) == []
        flags = await actions.claim_flags(store, company_id, course_id, 1)
        if flags:
            with pytest.raises(actions.Refused, match="flagged claim"):
                await actions.publish_version(store, company_id, course_id, 1, actor="rita")
            assert all("not an entailment judgement" in f.method for f in flags)
        await actions.publish_version(store, company_id, course_id, 1, actor="rita", override_reason="checked by hand")
        [seen] = await actions.learner_courses(store, company_id, employee_id)
        assert (seen.version, [m.status for m in seen.modules]) == (1, ["not_started"] * 4)
        for index in (0, 2):
            await actions.set_module_progress(store, company_id, employee_id, course_id, index, completed=True)
        quiz = v1["course"]["modules"][0]["quiz"]
        attempt = await actions.submit_quiz(
            store, company_id, employee_id, course_id, 0, [q["answer_index"] for q in quiz]
        )
        assert attempt.score == 1.0
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
        # Version 2 is a draft: the learner still sees version 1, with their progress.
        [seen] = await actions.learner_courses(store, company_id, employee_id)
        assert seen.version == 1
        assert [m.status for m in seen.modules] == ["completed", "not_started", "completed", "not_started"]
        assert seen.modules[0].best_score == 1.0
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
    assert comment in reworked["sections"]["introduction"]
    for i in (0, 1, 3):
        assert v2["course"]["modules"][i] == v1["course"]["modules"][i]
    # v1 stays as it was: a version is never rewritten.
    assert (await db.fetchval("SELECT course FROM course_versions WHERE version_id = $1", v1["version_id"])) == v1[
        "course"
    ]

    # Side by side: only module 2 changed.
    diff = await actions.compare(store, company_id, course_id, 1, 2)
    assert diff.changed_modules == [2]
    # A direct text edit is a version too.
    v3 = await actions.edit_section(
        store, company_id, course_id, base_version=2, module_index=1, section="introduction",
        text="A shorter introduction, edited by the reviewer.", actor="rita",
    )  # fmt: skip
    assert (v3.version, v3.origin, v3.based_on) == (3, "direct_edit", 2)
    assert "A shorter introduction, edited by the reviewer." in v3.markdown
    assert (await actions.compare(store, company_id, course_id, 2, 3)).changed_modules == [1]

    # Publishing version 2: the learner sees it, and progress on unchanged modules survives.
    await actions.publish_version(store, company_id, course_id, 2, actor="rita", override_reason="reviewed")
    [seen] = await actions.learner_courses(store, company_id, employee_id)
    assert seen.version == 2
    assert [m.status for m in seen.modules] == ["completed", "not_started", "completed", "not_started"]
    listed = await actions.list_versions(store, company_id, course_id)
    assert [(v.version, v.status) for v in listed] == [(1, "archived"), (2, "published"), (3, "draft")]

    # The audit trail has every action, in order, and exports as CSV.
    trail = await actions.audit_trail(store, company_id, course_id)
    done = [(e.actor, e.action) for e in trail]
    assert ("rita", "module.approved") in done and ("rita", "module.changes_requested") in done
    published = [e.details["version"] for e in trail if e.action == "version.published"]
    assert published == [1, 2]
    assert ("rita", "version.edited") in done
    flagged_v2 = bool(await actions.claim_flags(store, company_id, course_id, 2))
    overrides = [e.details["reason"] for e in trail if e.action == "version.override"]
    assert overrides == (["checked by hand"] if flags else []) + (["reviewed"] if flagged_v2 else [])
    csv_text = actions.audit_csv(trail)
    assert csv_text.splitlines()[0] == "at,actor,action,course_id,session_id,details"
    assert len(csv_text.splitlines()) == len(trail) + 1 and "module.changes_requested" in csv_text

    # Another company's reviewer: nothing of it exists.
    for call in (
        actions.list_versions(store, other_company, course_id),
        actions.get_version(store, other_company, course_id, 1),
        actions.compare(store, other_company, course_id, 1, 2),
        actions.claim_flags(store, other_company, course_id, 1),
        actions.publish_version(store, other_company, course_id, 3, actor="mallory", override_reason="x"),
        actions.audit_trail(store, other_company, course_id),
        actions.edit_section(store, other_company, course_id, base_version=1, module_index=0,
                             section="introduction", text="x", actor="mallory"),
        actions.set_module_progress(store, other_company, employee_id, course_id, 0, completed=True),
    ):  # fmt: skip
        with pytest.raises(actions.NotFound):
            await call
    assert await actions.learner_courses(store, other_company, employee_id) == []
    assert isinstance(course_id, uuid.UUID)
