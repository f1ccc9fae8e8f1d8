"""Jobs through the API on the running pipeline: 202 with the job id, live events, courses, resume and cancel."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import nats
import pytest

from coursegen.shared.settings import Settings
from coursegen.shared.subjects import JOB_CANCEL, JOB_REQUESTED, JOB_RESUME
from tests.gateway.conftest import Tenant
from tests.gateway.test_api import assert_problem
from tests.helpers import pipeline, wait_for_job


async def sse(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """The events of a server-sent event stream: {"event", "id", "data"}."""
    async with client.stream("GET", path, headers=headers or {}) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if not line:
                if "data" in event:
                    yield event
                event = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                event[field] = event[field] + "\n" + value if field == "data" and "data" in event else value


async def test_a_job_requested_through_the_api_runs_and_streams_its_progress(
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    tenant: Tenant,
    settings: Settings,
    db: asyncpg.Pool[Any],
) -> None:
    async with pipeline(settings):
        response = await client.post("/api/v1/jobs", json={"employees": "all", "token_budget": 5_000_000})
        assert response.status_code == 202, response.text
        accepted = response.json()
        job_id = accepted["job_id"]
        assert accepted["employees"] == 3 and response.headers["location"] == f"/api/v1/jobs/{job_id}"

        seen: list[dict[str, Any]] = []
        async for event in sse(client, f"/api/v1/jobs/{job_id}/events"):
            seen.append(event)
            if event["event"] == "end":
                break
        await wait_for_job(db, uuid.UUID(job_id))

    snapshots = [json.loads(e["data"]) for e in seen if e["event"] == "job"]
    assert snapshots[-1]["job"]["status"] == "completed"
    assert len(snapshots[-1]["runs"]) == 3 and all(r["course_id"] for r in snapshots[-1]["runs"])
    assert snapshots[-1]["job"]["tokens_used"] > 0
    bus_events = [e for e in seen if e["event"] == "event"]
    assert bus_events, "the stream carries the job's events as they happen"
    ids = [int(e["id"]) for e in bus_events]
    assert ids == sorted(ids)
    assert {json.loads(e["data"])["subject"] for e in bus_events} >= {"coursegen.course.ready"}

    # A reconnecting client resumes after the last event it saw.
    resumed = []
    async for event in sse(client, f"/api/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(ids[len(ids) // 2])}):
        resumed.append(event)
        if event["event"] == "end":
            break
    replayed = [int(e["id"]) for e in resumed if e["event"] == "event"]
    assert replayed == ids[len(ids) // 2 + 1 :]

    job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
    assert job["job"]["status"] == "completed" and job["job"]["successful_courses"] == 3
    listed = (await client.get("/api/v1/jobs")).json()
    assert job_id in [j["job_id"] for j in listed["items"]]
    courses = (await client.get("/api/v1/courses", params={"job_id": job_id})).json()
    assert courses["total"] == 3
    one = courses["items"][0]
    course = (await client.get(f"/api/v1/courses/{one['course_id']}")).json()
    assert course["title"] and course["course"]["modules"] and course["markdown"].startswith("# ")
    by_employee = (await client.get("/api/v1/courses", params={"employee_id": one["employee_id"]})).json()
    assert [c["course_id"] for c in by_employee["items"]] == [one["course_id"]]
    report = (await client.get(f"/api/v1/jobs/{job_id}/report")).json()
    assert report["total"]["input_tokens"] > 0 and 0 < report["token_reduction"] < 1
    assert {"planner", "content", "finalizer"} <= set(report["by_stage"])

    # The course as a file for an LMS, in every format; another company's caller finds no such course.
    export = f"/api/v1/courses/{one['course_id']}/export"
    for fmt, media_type, magic in (
        ("scorm12", "application/zip", b"PK"),
        ("scorm2004", "application/zip", b"PK"),
        ("qti", "application/zip", b"PK"),
        ("html", "text/html", b"<!DOCTYPE html"),
    ):
        response = await client.get(export, params={"format": fmt})
        assert response.status_code == 200, (fmt, response.text[:300])
        assert response.headers["content-type"].startswith(media_type), (fmt, response.headers)
        assert "attachment" in response.headers["content-disposition"]
        assert response.content[: len(magic)].upper() == magic.upper(), fmt
        assert (await other_client.get(export, params={"format": fmt})).status_code == 404
    unknown = await client.get(export, params={"format": "pdf"})
    assert unknown.status_code == 422 and "scorm12" in unknown.text
    # A wrong LRS setting on the server is named plainly, never a 500.
    with pytest.MonkeyPatch.context() as env:
        for name, value in (("URL", "lrs.example.com/xapi"), ("USERNAME", "u"), ("PASSWORD", "p")):
            env.setenv(f"COURSEGEN_LRS_{name}", value)
        misconfigured = await client.get(export, params={"format": "html"})
    assert misconfigured.status_code == 503, misconfigured.text[:300]
    assert "COURSEGEN_LRS_URL" in misconfigured.json()["detail"]
    # A course whose quizzes are gone has no QTI item bank: a 422 that says so; the page itself still exports.
    stored = await db.fetchval("SELECT course FROM assembled_courses WHERE course_id = $1", one["course_id"])
    for module in stored["modules"]:
        module["quiz"] = []
    await db.execute("UPDATE assembled_courses SET course = $2 WHERE course_id = $1", one["course_id"], stored)
    no_quiz = await client.get(export, params={"format": "qti"})
    assert no_quiz.status_code == 422, no_quiz.text[:300]
    assert no_quiz.json()["title"] == "Nothing to export" and "no quiz questions" in no_quiz.json()["detail"]
    assert (await client.get(export, params={"format": "html"})).status_code == 200


async def test_job_requests_and_controls_are_events_naming_the_callers_company(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    """Without the pipeline running: what the gateway publishes is exactly the public contract."""
    assert settings.nats_url
    nc = await nats.connect(settings.nats_url)
    try:
        sub = await nc.subscribe("coursegen.job.*")
        employee = next(iter(tenant.employees.values()))
        response = await client.post(
            "/api/v1/jobs",
            json={"employees": "selected", "employee_ids": [str(employee)], "company_id": str(uuid.uuid4())},
        )
        assert response.status_code == 202, response.text
        msg = await sub.next_msg(timeout=10)
        assert msg.subject == JOB_REQUESTED
        request = json.loads(msg.data)
        assert request["company_id"] == str(tenant.company_id), "the company comes from the key, never the body"
        assert request["employee_ids"] == [str(employee)] and request["all_employees"] is False
        assert msg.headers and msg.headers["Nats-Msg-Id"] == request["event_id"]

        job_id = uuid.UUID(response.json()["job_id"])
        # Controls need the job to exist as the company's: make it so, as the coordinator would.
        await db.execute(
            "INSERT INTO course_generation_jobs (job_id, company_id, total_employees) VALUES ($1, $2, 1)",
            job_id,
            tenant.company_id,
        )
        assert (await client.post(f"/api/v1/jobs/{job_id}/cancel", json={"reason": "wrong people"})).status_code == 202
        cancel = await sub.next_msg(timeout=10)
        assert cancel.subject == JOB_CANCEL
        assert json.loads(cancel.data)["reason"] == "wrong people"
        assert json.loads(cancel.data)["company_id"] == str(tenant.company_id)
        assert (await client.post(f"/api/v1/jobs/{job_id}/resume")).status_code == 202
        assert (await sub.next_msg(timeout=10)).subject == JOB_RESUME
    finally:
        await nc.close()


async def test_bad_job_requests_are_refused_plainly(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/api/v1/jobs", json={"employees": "selected", "employee_ids": []}), 422)
    assert_problem(await client.post("/api/v1/jobs", json={"employees": "everyone"}), 422)
    assert_problem(await client.post("/api/v1/jobs", json={"token_budget": 0}), 422)
    assert_problem(await client.post("/api/v1/jobs", json={"employees": "role"}), 422)
    assert_problem(await client.get(f"/api/v1/jobs/{uuid.uuid4()}"), 404)
    assert_problem(await client.get("/api/v1/jobs/not-a-uuid"), 422)
