"""The review and learner pages over HTTP, on the real pipeline: every route answers another company's reviewer
404, publishing with flagged claims needs a recorded override, forms without the CSRF token are refused, and a
learner's personal link opens their published course and nothing else."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from coursegen.shared.settings import Settings
from tests.gateway.conftest import CSRF, Tenant, form_token, new_tenant, signed_in
from tests.helpers import pipeline, wait_for, wait_for_job
from tests.review._flow import FOUR_MODULES, wait_for_status

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def reviewers(gateway_url: str, db: asyncpg.Pool[Any]) -> AsyncIterator[tuple[Tenant, Tenant, Any, Any]]:
    tenant = await new_tenant(db, employees=(FOUR_MODULES,))
    other = await new_tenant(db)
    mine, theirs = await signed_in(gateway_url, tenant), await signed_in(gateway_url, other)
    yield tenant, other, mine, theirs
    await mine.aclose()
    await theirs.aclose()


async def test_review_pages_are_the_companys_own_and_publishing_needs_a_recorded_override(
    gateway_url: str,
    settings: Settings,
    db: asyncpg.Pool[Any],
    reviewers: tuple[Tenant, Tenant, Any, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, _, mine, theirs = reviewers
    employee_id = tenant.employees[FOUR_MODULES.email]
    async with pipeline(settings):
        # The API asks for outline approval as the Generate page does.
        answer = await mine.post(
            "/api/v1/jobs",
            json={"employees": "all", "review_outline": True},
            headers={"X-CSRF-Token": await form_token(mine)},
        )
        assert answer.status_code == 202, answer.text
        job_id = uuid.UUID(answer.json()["job_id"])
        session_id: str = await wait_for(db, "SELECT session_id FROM course_runs WHERE job_id = $1", job_id)
        await wait_for_status(db, session_id, "awaiting_outline_review")
        assert (await db.fetchval("SELECT job_config FROM course_generation_jobs WHERE job_id = $1", job_id))[
            "review_outline"
        ] is True

        listed = await mine.get("/review")
        assert f"/review/outlines/{session_id}" in listed.text
        assert f"/review/outlines/{session_id}" not in (await theirs.get("/review")).text
        outline = f"/review/outlines/{session_id}"
        assert (await theirs.get(outline)).status_code == 404
        refused = await theirs.post(outline, data={"csrf_token": await form_token(theirs), "decision": "approve"})
        assert refused.status_code == 404
        # Nothing without the form's token, and a rejection needs its comment.
        assert (await mine.post(outline, data={"decision": "approve"})).status_code == 403
        token = await form_token(mine, outline)
        assert (await mine.post(outline, data={"csrf_token": token, "decision": "reject"})).status_code == 422
        assert await db.fetchval("SELECT status FROM course_runs WHERE session_id = $1", session_id) == (
            "awaiting_outline_review"
        )
        approved = await mine.post(outline, data={"csrf_token": token, "decision": "approve"})
        assert (approved.status_code, approved.headers["location"]) == (303, "/review?done=outline-approved")
        assert (await wait_for_job(db, job_id, timeout=120))["status"] == "completed"

    course_id: uuid.UUID = await wait_for(db, "SELECT course_id FROM courses WHERE company_id = $1", tenant.company_id)
    page = f"/review/courses/{course_id}"
    token = await form_token(mine, page)
    for path in (
        page, f"{page}?version=1", f"{page}/compare?before=1&after=1", f"{page}/audit", f"{page}/audit.csv",
        f"{page}/versions/1/modules/0/edit?section=core_content",
    ):  # fmt: skip
        assert (await theirs.get(path)).status_code == 404, path
        assert (await mine.get(path)).status_code == 200, path
    their_token = await form_token(theirs)
    for path, data in (
        (f"{page}/versions/1/publish", {"override_reason": "mine now"}),
        (f"{page}/modules/0", {"decision": "request_changes", "comment": "rewrite it"}),
        (f"{page}/versions/1/modules/0/edit", {"section": "core_content", "text": "Defaced."}),
        (f"{page}/learner-link", {}),
    ):
        assert (await theirs.post(path, data={"csrf_token": their_token, **data})).status_code == 404, path
    assert await db.fetchval("SELECT count(*) FROM course_versions WHERE course_id = $1", course_id) == 1
    assert await db.fetchval("SELECT count(*) FROM learner_links WHERE company_id = $1", tenant.company_id) == 0

    # Flagged claims: publishing needs the override's reason; with it, the reason is on the record.
    flags = await db.fetchval(
        "SELECT count(*) FROM claim_flags f JOIN course_versions v USING (version_id) WHERE v.course_id = $1",
        course_id,
    )
    if flags:
        held = await mine.post(f"{page}/versions/1/publish", data={"csrf_token": token})
        assert held.status_code == 409 and "flagged claim" in held.text
        assert await db.fetchval("SELECT status FROM course_versions WHERE course_id = $1", course_id) == "draft"
    published = await mine.post(
        f"{page}/versions/1/publish", data={"csrf_token": token, "override_reason": "read every flagged sentence"}
    )
    assert published.status_code == 303
    assert await db.fetchval("SELECT status FROM course_versions WHERE course_id = $1", course_id) == "published"
    again = await mine.post(f"{page}/versions/1/publish", data={"csrf_token": token})
    assert again.status_code == 409 and "only a draft can be published" in again.text

    # A direct edit is a new draft; the published version stays what learners see.
    edited = await mine.post(
        f"{page}/versions/1/modules/0/edit",
        data={"csrf_token": token, "section": "core_content", "text": "Reviewed by hand: see the team wiki."},
    )
    assert edited.status_code == 303 and "version=2" in edited.headers["location"]
    empty = await mine.post(
        f"{page}/versions/1/modules/0/edit", data={"csrf_token": token, "section": "core_content", "text": " "}
    )
    assert empty.status_code == 422 and "cannot be empty" in empty.text
    compared = await mine.get(f"{page}/compare?before=1&after=2")
    assert "1 module changed: module 1." in compared.text and "Reviewed by hand" in compared.text

    trail = list(csv.reader(io.StringIO((await mine.get(f"{page}/audit.csv")).text)))
    assert trail[0] == ["at", "actor", "action", "course_id", "session_id", "details"]
    actions = [row[2] for row in trail[1:]]
    assert actions[0] == "outline.approved" and "version.published" in actions and actions[-1] == "version.edited"
    assert {row[1] for row in trail[1:]} == {tenant.email}
    if flags:
        assert "version.override" in actions

    # The learner's personal link: their published course (version 1, not the draft), nothing of anyone else's.
    shared = await mine.post(f"{page}/learner-link", data={"csrf_token": token})
    link = re.search(r'value="(http[^"]+/learn/open/[^"]+)"', shared.text)
    assert link, shared.text
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as learner:
        assert (await learner.get("/learn")).status_code == 401
        assert (await learner.get("/learn/open/not-a-real-link")).status_code == 404
        opened = await learner.get(link.group(1).removeprefix(gateway_url))
        assert opened.status_code == 303 and opened.headers["location"] == "/learn"
        home = await learner.get("/learn")
        assert home.status_code == 200 and FOUR_MODULES.name in home.text and "version 1" in home.text
        course = await learner.get(f"/learn/courses/{course_id}")
        assert course.status_code == 200 and "Reviewed by hand" not in course.text
        assert "COURSEGEN_XAPI" not in course.text, "no LRS configured: no reporter"
        # With an LRS, the learner's page reports to it as the learner (the same reporter as the exports).
        monkeypatch.setenv("COURSEGEN_LRS_URL", "https://lrs.example.com/xAPI/")
        monkeypatch.setenv("COURSEGEN_LRS_USERNAME", "writer")
        monkeypatch.setenv("COURSEGEN_LRS_PASSWORD", "secret")
        reported = (await learner.get(f"/learn/courses/{course_id}")).text
        assert "window.COURSEGEN_XAPI" in reported and f'"name": "{employee_id}"' in reported
        monkeypatch.setenv("COURSEGEN_LRS_URL", "ftp://nowhere")
        assert (await learner.get(f"/learn/courses/{course_id}")).status_code == 200, "a bad LRS URL is not fatal"
        monkeypatch.delenv("COURSEGEN_LRS_URL")
        assert (await learner.get(f"/learn/courses/{uuid.uuid4()}")).status_code == 404
        # The reviewer's pages are not a learner's.
        assert (await learner.get(page)).status_code == 303
        quiz = f"/learn/courses/{course_id}/modules/0/quiz"
        learner_token = CSRF.search(course.text)
        assert learner_token
        headers = {"X-CSRF-Token": learner_token.group(1)}
        assert (await learner.post(quiz, json={"answers": [0]})).status_code == 403
        wrong_count = await learner.post(quiz, json={"answers": [0] * 50}, headers=headers)
        assert wrong_count.status_code == 422 and "question(s)" in wrong_count.text
        key = await db.fetchval(
            "SELECT course -> 'modules' -> 0 -> 'quiz' FROM course_versions WHERE course_id = $1 AND version = 1",
            course_id,
        )
        scored = await learner.post(quiz, json={"answers": [q["answer_index"] for q in key]}, headers=headers)
        assert scored.status_code == 200
        result = scored.json()
        assert (result["score"], result["passed"], result["total"]) == (1.0, True, len(key))
        progress = await db.fetchval(
            "SELECT status FROM learner_progress WHERE course_id = $1 AND module_index = 0", course_id
        )
        assert progress == "completed"
        # A new link revokes the old one.
        await mine.post(f"{page}/learner-link", data={"csrf_token": token})
        assert (await learner.get("/learn")).status_code == 401


async def test_the_review_api_is_the_companys_own(
    gateway_url: str, settings: Settings, db: asyncpg.Pool[Any], reviewers: tuple[Tenant, Tenant, Any, Any]
) -> None:
    tenant, other, _, _ = reviewers
    key = {"Authorization": f"Bearer {tenant.api_key}"}
    their_key = {"Authorization": f"Bearer {other.api_key}"}
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as api, pipeline(settings):
        job = await api.post("/api/v1/jobs", json={"review_outline": True}, headers=key)
        job_id = uuid.UUID(job.json()["job_id"])
        session_id: str = await wait_for(db, "SELECT session_id FROM course_runs WHERE job_id = $1", job_id)
        await wait_for_status(db, session_id, "awaiting_outline_review")
        waiting = (await api.get("/api/v1/outlines", headers=key)).json()
        assert [o["session_id"] for o in waiting] == [session_id]
        assert (await api.get("/api/v1/outlines", headers=their_key)).json() == []
        outline = f"/api/v1/outlines/{session_id}"
        assert (await api.get(outline, headers=their_key)).status_code == 404
        planned = (await api.get(outline, headers=key)).json()
        assert planned["waiting"] is True and len(planned["modules"]) == 4
        decision = {"decision": "approve", "modules": [
            {"title": m["title"], "skills": m["skills"], "objectives": m["objectives"]} for m in planned["modules"][:2]
        ]}  # fmt: skip
        assert (await api.post(f"{outline}/decision", json=decision, headers=their_key)).status_code == 404
        rejected = await api.post(f"{outline}/decision", json={"decision": "reject"}, headers=key)
        assert rejected.status_code == 422
        accepted = await api.post(f"{outline}/decision", json={**decision, "reviewer": "hr-system"}, headers=key)
        assert accepted.status_code == 202, accepted.text
        assert (await wait_for_job(db, job_id, timeout=120))["status"] == "completed"

    listed = (await api_get(gateway_url, "/api/v1/reviews/courses", key)).json()
    [course] = listed["items"]
    assert (course["latest_version"], course["latest_status"], course["published_version"]) == (1, "draft", None)
    assert (await api_get(gateway_url, "/api/v1/reviews/courses", their_key)).json()["items"] == []
    base = f"/api/v1/reviews/courses/{course['course_id']}"
    version = (await api_get(gateway_url, f"{base}/versions/1", key)).json()
    assert len(version["course"]["modules"]) == 2 and len(version["flags"]) == course["open_flags"]
    for path in (f"{base}/versions", f"{base}/versions/1", f"{base}/compare?before=1&after=1", f"{base}/audit"):
        assert (await api_get(gateway_url, path, their_key)).status_code == 404, path
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as api:
        theirs = await api.post(f"{base}/versions/1/publish", json={"override_reason": "x"}, headers=their_key)
        assert theirs.status_code == 404
        if course["open_flags"]:
            held = await api.post(f"{base}/versions/1/publish", json={}, headers=key)
            assert held.status_code == 409 and "flagged claim" in held.json()["detail"]
        published = await api.post(
            f"{base}/versions/1/publish", json={"override_reason": "checked", "reviewer": "hr-system"}, headers=key
        )
        assert published.status_code == 200 and published.json()["status"] == "published"
        edit = {"module_index": 1, "section": "case_studies", "text": "A case from our own backlog."}
        assert (await api.post(f"{base}/versions/1/edits", json=edit, headers=their_key)).status_code == 404
        made = await api.post(f"{base}/versions/1/edits", json=edit, headers=key)
        assert (made.status_code, made.json()["version"], made.json()["based_on"]) == (201, 2, 1)
        diff = (await api.get(f"{base}/compare?before=1&after=2", headers=key)).json()
        assert [m["index"] for m in diff["modules"] if m["status"] != "unchanged"] == [1]
        trail = await api.get(f"{base}/audit?format=csv", headers=key)
        assert trail.headers["content-type"].startswith("text/csv")
    actors = {e["actor"] for e in (await api_get(gateway_url, f"{base}/audit", key)).json()}
    assert actors == {"api key (hr-system)", "api key"}


async def api_get(gateway_url: str, path: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as api:
        return await api.get(path, headers=headers)
