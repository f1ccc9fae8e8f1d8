"""The quality loop is bounded: a module that never passes goes back twice, then through with a warning."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
import pytest

import coursegen.content.app as content_app
from coursegen.content.agent import ModuleDraft
from coursegen.content.policy import content_policy
from coursegen.quality.app import MAX_REVISIONS, PASS_MARK, decide
from coursegen.quality.rubric import Rubric
from coursegen.shared.models import PolicyView, ToolCall
from coursegen.shared.settings import Settings
from coursegen.shared.stage import stage_service
from tests.employees import ONE_MODULE
from tests.helpers import make_company, pipeline, request_job, wait_for_job


def rubric(score_each: float, *, uncovered: list[str] | None = None) -> Rubric:
    return Rubric(
        coverage=score_each,
        citations=score_each,
        readability=score_each,
        structure=score_each,
        flesch_reading_ease=50.0,
        uncovered_skills=uncovered or [],
    )


def test_a_failing_module_is_revised_twice_then_passes_with_a_warning() -> None:
    failing = rubric(10)
    assert [decide(failing, revision) for revision in range(MAX_REVISIONS + 2)] == [
        "revise",
        "revise",
        "pass_with_warning",
        "pass_with_warning",
    ]


def test_passing_needs_the_mark_and_the_hard_checks() -> None:
    assert PASS_MARK == 80.0
    assert decide(rubric(20), 0) == "pass"  # exactly the mark
    assert decide(rubric(19.9), 0) == "revise"
    # A high score does not make up for a gap the module leaves uncovered.
    assert decide(rubric(25, uncovered=["SQL"]), 0) == "revise"
    assert decide(rubric(25, uncovered=["SQL"]), MAX_REVISIONS) == "pass_with_warning"


def never_good_enough(view: PolicyView) -> list[ToolCall] | ModuleDraft:
    """The content writer, but every draft is a stub: no citations, every section thin."""
    decision = content_policy(view)
    if isinstance(decision, list):
        return decision
    return decision.model_copy(
        update={name: "To be written." for name in ("introduction", "core_content", "practical_applications")}
        | {"case_studies": "None yet.", "assessments": "Later."}
    )


async def test_a_module_that_never_passes_stops_after_two_revisions(
    settings: Settings, db: asyncpg.Pool[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = dataclasses.replace(content_app.spec, policy=never_good_enough)
    monkeypatch.setattr(content_app, "service", stage_service(spec))
    company_id, employees = await make_company(db, employees=[ONE_MODULE])
    async with pipeline(settings):
        job_id = await request_job(settings, company_id, list(employees.values()))
        job = await wait_for_job(db, job_id)

    assert job["status"] == "completed"
    session_id = await db.fetchval("SELECT session_id FROM course_runs WHERE job_id = $1", job_id)
    reports = await db.fetch(
        "SELECT revision, decision, passed, feedback FROM quality_reports WHERE session_id = $1 ORDER BY revision",
        session_id,
    )
    assert [(r["revision"], r["decision"]) for r in reports] == [
        (0, "revise"),
        (1, "revise"),
        (2, "pass_with_warning"),
    ]
    assert [r["passed"] for r in reports] == [False, False, True]
    assert reports[2]["feedback"][0].startswith("warning: passed after 2 revision(s) below the pass mark")
    drafts = await db.fetch("SELECT revision FROM cm_module_content WHERE session_id = $1", session_id)
    assert sorted(d["revision"] for d in drafts) == [0, 1, 2]

    course = await db.fetchrow("SELECT markdown, course FROM assembled_courses WHERE session_id = $1", session_id)
    assert course is not None
    assert "> This module passed review with a warning" in course["markdown"]
    assert course["course"]["modules"][0]["quality"]["decision"] == "pass_with_warning"
    assert course["course"]["modules"][0]["revision"] == 2
