"""Store rules of people in the loop: progress carried by fingerprint, an append-only audit, one published version."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from coursegen.shared.review import actions, drafts
from coursegen.shared.store import Database, reviews, versions
from coursegen.shared.store.runs import CourseRun, RunStatus
from tests.helpers import make_company
from tests.review._flow import FOUR_MODULES


def course(objectives: list[list[str]]) -> dict[str, Any]:
    return {
        "title": "Course",
        "modules": [
            {"index": i, "title": f"M{i}", "objectives": o, "sections": {"core_content": "Plain text."},
             "quiz": [], "sources": []}
            for i, o in enumerate(objectives)
        ],
    }  # fmt: skip


async def a_run(db: asyncpg.Pool[Any]) -> tuple[CourseRun, uuid.UUID]:
    company_id, employees = await make_company(db, employees=(FOUR_MODULES,))
    employee_id = employees[FOUR_MODULES.email]
    job_id = uuid.uuid4()
    session_id = str(uuid.uuid4())
    await db.execute(
        "INSERT INTO course_generation_jobs (job_id, company_id, total_employees, status) "
        "VALUES ($1, $2, 1, 'running')",
        job_id,
        company_id,
    )
    await db.execute(
        "INSERT INTO course_runs (session_id, job_id, company_id, employee_id, status) VALUES ($1, $2, $3, $4, "
        "'completed')",
        session_id,
        job_id,
        company_id,
        employee_id,
    )
    run = CourseRun(
        session_id=session_id,
        job_id=job_id,
        company_id=company_id,
        employee_id=employee_id,
        status=RunStatus.COMPLETED,
        epoch=0,
        current_stage=None,
        modules_total=3,
        modules_done=3,
    )
    return run, employee_id


async def test_progress_survives_on_unchanged_modules_and_changed_ones_are_marked_updated(
    db: asyncpg.Pool[Any],
) -> None:
    store = Database(db)
    run, employee_id = await a_run(db)
    async with store.transaction() as conn:
        v1 = await drafts.store_draft(conn, run, round=0, origin=versions.Origin.GENERATED,
                                      course=course([["a"], ["b"], ["c"]]), markdown="# v1")  # fmt: skip
        await drafts.store_draft(conn, run, round=1, origin=versions.Origin.CHANGE_REQUEST,
                                 course=course([["a"], ["b changed"], ["c"]]), markdown="# v2")  # fmt: skip
    company_id, course_id = run.company_id, v1.course_id
    await actions.publish_version(store, company_id, course_id, 1, actor="rita")
    for index in (0, 1):
        await actions.set_module_progress(store, company_id, employee_id, course_id, index, completed=True)
    await actions.set_module_progress(store, company_id, employee_id, course_id, 2, completed=False)

    await actions.publish_version(store, company_id, course_id, 2, actor="rita")
    [seen] = await actions.learner_courses(store, company_id, employee_id)
    assert seen.version == 2
    assert [m.status for m in seen.modules] == ["completed", "updated", "in_progress"]
    assert not seen.completed

    # Publishing again, or a version that is not a draft, is refused with the reason.
    with pytest.raises(actions.Refused, match="only a draft"):
        await actions.publish_version(store, company_id, course_id, 1, actor="rita")
    assert [v.status for v in await actions.list_versions(store, company_id, course_id)] == ["archived", "published"]


async def test_the_audit_trail_cannot_be_rewritten(db: asyncpg.Pool[Any]) -> None:
    run, _ = await a_run(db)
    async with Database(db).transaction() as conn:
        await reviews.record_action(conn, company_id=run.company_id, session_id=run.session_id, actor="rita",
                                    action="outline.approved")  # fmt: skip
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("UPDATE review_audit SET actor = 'mallory' WHERE session_id = $1", run.session_id)
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("DELETE FROM review_audit WHERE session_id = $1", run.session_id)
    assert await db.fetchval("SELECT actor FROM review_audit WHERE session_id = $1", run.session_id) == "rita"


async def test_publishing_with_flagged_claims_needs_an_override_which_is_recorded(db: asyncpg.Pool[Any]) -> None:
    store = Database(db)
    run, _ = await a_run(db)
    flagged = course([["a"]])
    flagged["modules"][0]["sections"]["core_content"] = "Quantum payroll forecasting is solved [1]."
    flagged["modules"][0]["sources"] = [{"ref": 1, "heading": "Git", "quote": "Small commits help bisecting."}]
    async with store.transaction() as conn:
        v1 = await drafts.store_draft(conn, run, round=0, origin=versions.Origin.GENERATED, course=flagged,
                                      markdown="# v1")  # fmt: skip
    [flag] = await actions.claim_flags(store, run.company_id, v1.course_id, 1)
    assert flag.verdict == "unsupported" and flag.ref == 1
    with pytest.raises(actions.Refused, match="1 flagged claim"):
        await actions.publish_version(store, run.company_id, v1.course_id, 1, actor="rita")
    with pytest.raises(actions.Refused, match="override"):
        await actions.publish_version(store, run.company_id, v1.course_id, 1, actor="rita", override_reason="  ")
    published = await actions.publish_version(store, run.company_id, v1.course_id, 1, actor="rita",
                                              override_reason="the source was checked by hand")  # fmt: skip
    assert published.override_reason == "the source was checked by hand"
    trail = await actions.audit_trail(store, run.company_id, v1.course_id)
    assert [(e.action, e.details.get("reason")) for e in trail] == [
        ("version.override", "the source was checked by hand"),
        ("version.published", None),
    ]
