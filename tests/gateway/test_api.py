"""The HTTP API against a running gateway: every route, the caller's company only, problems for bad input."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from tests.gateway.conftest import Tenant

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_the_openapi_document_lists_the_routes(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as anonymous:
        doc = (await anonymous.get("/api/v1/openapi.json")).json()
    for path in (
        "/api/v1/employees",
        "/api/v1/employees/import",
        "/api/v1/employees/bulk",
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}/events",
        "/api/v1/courses/{course_id}",
        "/api/v1/documents",
    ):
        assert path in doc["paths"], path
    assert not any(p.startswith("/people") for p in doc["paths"]), "pages are not part of the API"


async def test_without_a_key_or_with_a_wrong_one_the_answer_is_401(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as anonymous:
        body = assert_problem(await anonymous.get("/api/v1/employees"), 401)
        assert "Bearer" in body["detail"]
        wrong = await anonymous.get("/api/v1/employees", headers={"Authorization": "Bearer cgk_not-a-key"})
        assert_problem(wrong, 401)
        assert_problem(await anonymous.get("/api/v1/employees", headers={"Authorization": "Basic abc"}), 401)


async def test_company_is_the_callers(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = (await client.get("/api/v1/company")).json()
    assert body["id"] == str(tenant.company_id)


async def test_roles_are_listed_created_and_edited(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/v1/roles")).json()
    assert listed["total"] == 5 and {r["name"] for r in listed["items"]} >= {"Data Analyst", "Software Engineer"}
    created = await client.post(
        "/api/v1/roles",
        json={"name": "Data Engineer", "skills": [{"skill_name": "SQL", "required_level": 4, "importance": 5}]},
    )
    assert created.status_code == 201, created.text
    role = created.json()
    assert role["skills"] == [{"skill_name": "SQL", "required_level": 4, "importance": 5}]
    edited = await client.put(
        f"/api/v1/roles/{role['id']}",
        json={
            "name": "Data Engineer",
            "description": "pipelines",
            "skills": [{"skill_name": "Python", "required_level": 3}],
        },
    )
    assert edited.json()["skills"] == [{"skill_name": "Python", "required_level": 3, "importance": 3}]
    assert (await client.get(f"/api/v1/roles/{role['id']}")).json()["description"] == "pipelines"
    assert_problem(await client.post("/api/v1/roles", json={"name": "Data Engineer"}), 409)
    bad = await client.post("/api/v1/roles", json={"name": "X", "skills": [{"skill_name": "SQL", "required_level": 6}]})
    body = assert_problem(bad, 422)
    assert any("required_level" in e["location"] for e in body["errors"])


async def test_employees_are_paginated_created_edited(client: httpx.AsyncClient) -> None:
    first = (await client.get("/api/v1/employees", params={"limit": 2})).json()
    assert first["total"] == 3 and len(first["items"]) == 2
    rest = (await client.get("/api/v1/employees", params={"limit": 2, "offset": 2})).json()
    assert len(rest["items"]) == 1
    assert {e["id"] for e in first["items"]}.isdisjoint({e["id"] for e in rest["items"]})
    roles = {r["name"]: r["id"] for r in (await client.get("/api/v1/roles")).json()["items"]}
    created = await client.post(
        "/api/v1/employees",
        json={
            "full_name": "Zoë Ødegård",
            "external_id": "E-9",
            "current_role_id": roles["Data Analyst"],
            "target_role_id": roles["Senior Data Analyst"],
            "skills": [{"skill_name": "SQL", "level": 2}],
        },
    )
    assert created.status_code == 201, created.text
    employee = created.json()
    assert employee["current_role"] == "Data Analyst" and employee["skills"] == [{"skill_name": "SQL", "level": 2}]
    edited = await client.put(
        f"/api/v1/employees/{employee['id']}", json={"full_name": "Zoë Ødegård", "external_id": "E-9"}
    )
    assert edited.json()["skills"] == [] and edited.json()["current_role"] is None
    by_role = (await client.get("/api/v1/employees", params={"role_id": roles["Data Analyst"]})).json()
    assert [e["full_name"] for e in by_role["items"]] == ["Maya Chen"]
    assert_problem(await client.get("/api/v1/employees", params={"limit": 0}), 422)
    assert_problem(await client.post("/api/v1/employees", json={"full_name": ""}), 422)
    assert_problem(await client.post("/api/v1/employees", json={"full_name": "A", "external_id": "E-9"}), 409)
    assert_problem(
        await client.post("/api/v1/employees", json={"full_name": "A", "skills": [{"skill_name": "SQL", "level": 9}]}),
        422,
    )


async def test_bulk_upsert_by_external_id_is_idempotent(client: httpx.AsyncClient) -> None:
    roles = {r["name"]: r["id"] for r in (await client.get("/api/v1/roles")).json()["items"]}
    body = {
        "employees": [
            {
                "external_id": "HR-1",
                "full_name": "Ana Lima",
                "current_role_id": roles["Data Analyst"],
                "skills": [{"skill_name": "SQL", "level": 1}],
            },
            {"external_id": "HR-2", "full_name": "Ben Ode"},
        ]
    }
    first = (await client.put("/api/v1/employees/bulk", json=body)).json()
    assert (first["created"], first["updated"]) == (2, 0)
    again = (await client.put("/api/v1/employees/bulk", json=body)).json()
    assert (again["created"], again["updated"]) == (0, 2)
    assert [e["id"] for e in again["employees"]] == [e["id"] for e in first["employees"]]
    assert (await client.get("/api/v1/employees")).json()["total"] == 5
    body["employees"][1]["full_name"] = "Ben Odé"
    (await client.put("/api/v1/employees/bulk", json=body)).raise_for_status()
    names = {e["full_name"] for e in (await client.get("/api/v1/employees")).json()["items"]}
    assert "Ben Odé" in names and "Ben Ode" not in names
    twice = {"employees": [{"external_id": "X", "full_name": "a"}, {"external_id": "X", "full_name": "b"}]}
    assert_problem(await client.put("/api/v1/employees/bulk", json=twice), 422)


async def test_another_companys_things_answer_404(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, other_tenant: Tenant, db: asyncpg.Pool[Any]
) -> None:
    """Every kind of resource: employee, role, document, job, course; reading, changing, deleting, using."""
    theirs = await _things_of(other_client, other_tenant, db)
    for path in (
        f"/api/v1/employees/{theirs['employee']}",
        f"/api/v1/roles/{theirs['role']}",
        f"/api/v1/documents/{theirs['document']}",
        f"/api/v1/jobs/{theirs['job']}",
        f"/api/v1/jobs/{theirs['job']}/report",
        f"/api/v1/jobs/{theirs['job']}/events",
        f"/api/v1/courses/{theirs['course']}",
    ):
        body = assert_problem(await client.get(path), 404)
        assert str(other_tenant.company_id) not in str(body)
        assert (await other_client.get(path)).status_code == 200, path
    assert_problem(await client.put(f"/api/v1/employees/{theirs['employee']}", json={"full_name": "x"}), 404)
    assert_problem(await client.put(f"/api/v1/roles/{theirs['role']}", json={"name": "x"}), 404)
    assert_problem(await client.delete(f"/api/v1/documents/{theirs['document']}"), 404)
    assert_problem(await client.post(f"/api/v1/jobs/{theirs['job']}/cancel"), 404)
    assert_problem(await client.post(f"/api/v1/jobs/{theirs['job']}/resume"), 404)
    # Using another company's ids in one's own requests is refused too, and says nothing about them.
    job = await client.post("/api/v1/jobs", json={"employees": "selected", "employee_ids": [theirs["employee"]]})
    assert_problem(job, 422)
    role_job = await client.post("/api/v1/jobs", json={"employees": "role", "role_id": theirs["role"]})
    assert_problem(role_job, 422)
    foreign_role = await client.post("/api/v1/employees", json={"full_name": "a", "current_role_id": theirs["role"]})
    assert_problem(foreign_role, 422)
    # Lists hold only one's own.
    for path, key in (
        ("/api/v1/employees", "employee"),
        ("/api/v1/roles", "role"),
        ("/api/v1/documents", "document"),
        ("/api/v1/jobs", "job"),
        ("/api/v1/courses", "course"),
    ):
        items = (await client.get(path, params={"limit": 200})).json()["items"]
        ids = {str(i.get("id") or i.get("document_id") or i.get("job_id") or i.get("course_id")) for i in items}
        assert theirs[key] not in ids, path
    assert (await other_client.get(f"/api/v1/documents/{theirs['document']}")).status_code == 200


async def _things_of(api: httpx.AsyncClient, tenant: Tenant, db: asyncpg.Pool[Any]) -> dict[str, str]:
    """One of each kind of thing for ``tenant``; the job and course are written to the store directly (no
    pipeline needed to own them)."""
    employee = next(iter(tenant.employees.values()))
    role = (await api.get("/api/v1/roles")).json()["items"][0]["id"]
    uploaded = await api.post("/api/v1/documents", files={"file": ("guide.md", b"# Guide\n\nHow we work here.\n")})
    assert uploaded.status_code == 201, uploaded.text
    job_id, session = uuid.uuid4(), f"s-{uuid.uuid4().hex[:8]}"
    await db.execute(
        "INSERT INTO course_generation_jobs (job_id, company_id, total_employees, status) "
        "VALUES ($1, $2, 1, 'completed')",
        job_id,
        tenant.company_id,
    )
    await db.execute(
        "INSERT INTO course_runs (session_id, job_id, company_id, employee_id, status) "
        "VALUES ($1, $2, $3, $4, 'completed')",
        session,
        job_id,
        tenant.company_id,
        employee,
    )
    course_id = await db.fetchval(
        "INSERT INTO assembled_courses (session_id, job_id, company_id, employee_id, title, total_modules, word_count,"
        " course, markdown) VALUES ($1, $2, $3, $4, 'A course', 0, 0, $5, '# A course') RETURNING course_id",
        session,
        job_id,
        tenant.company_id,
        employee,
        {"title": "A course", "modules": []},
    )
    return {
        "employee": str(employee),
        "role": role,
        "document": uploaded.json()["document_id"],
        "job": str(job_id),
        "course": str(course_id),
    }
