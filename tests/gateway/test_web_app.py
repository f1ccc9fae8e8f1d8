"""The web app's forms and its defences over HTTP: the session cookie's flags, CSRF on every form, the sign-in
and request rate limits, and the People, Knowledge base and Job forms a learning team uses."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import nats
import pytest

from coursegen.gateway.settings import GatewaySettings
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import JOB_CANCEL, JOB_RESUME
from tests.gateway.conftest import CSRF, Tenant, form_token, new_tenant, serve_gateway, signed_in


async def test_the_session_cookie_is_httponly_and_samesite_and_sign_out_ends_it(
    gateway_url: str, tenant: Tenant
) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        token = CSRF.search((await client.get("/login")).text)
        assert token
        answer = await client.post(
            "/login", data={"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
        )
        cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("cg_session="))
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "samesite", "max-age", "path"} <= flags and "secure" not in flags
        assert "samesite=lax" in cookie.lower()
        people = await client.get("/people")
        assert people.status_code == 200 and people.headers["cache-control"] == "no-store"
        out = await client.post("/logout", data={"csrf_token": await form_token(client, "/people")})
        assert out.status_code == 303
        assert (await client.get("/people")).status_code == 303, "the session ended"
        # A wrong password says nothing about whether the account exists.
        wrong = await client.post(
            "/login", data={"email": tenant.email, "password": "not it", "csrf_token": token.group(1)}
        )
        nobody = await client.post(
            "/login", data={"email": "nobody@example.com", "password": "not it", "csrf_token": token.group(1)}
        )
        assert wrong.status_code == nobody.status_code == 401
        assert "do not match an account" in wrong.text and "do not match an account" in nobody.text


async def test_behind_tls_the_cookies_are_secure(settings: Settings) -> None:
    gw = GatewaySettings(_env_file=None, cookie_secure=True)  # type: ignore[call-arg]
    async with serve_gateway(settings, gw) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        login = await client.get("/login")
        csrf = next(v for k, v in login.headers.multi_items() if k == "set-cookie" and v.startswith("cg_csrf="))
        assert "secure" in {part.strip().lower() for part in csrf.split(";")}


async def test_failed_sign_ins_and_requests_over_the_rate_are_answered_429(
    settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    tenant = await new_tenant(db)
    gw = GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        login_attempts_per_minute=3,
        rate_per_second=0.5,
        rate_burst=30,
    )
    async with serve_gateway(settings, gw) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        # A successful sign-in is not counted: an office signs in from one address.
        for _ in range(4):
            await (await signed_in(url, tenant)).aclose()
        token = CSRF.search((await client.get("/login")).text)
        assert token
        form = {"email": tenant.email, "password": "guess", "csrf_token": token.group(1)}
        answers = [(await client.post("/login", data=form)).status_code for _ in range(4)]
        assert answers == [401, 401, 401, 429]
        held = await client.post("/login", data={**form, "password": tenant.password})
        assert held.status_code == 429 and "Too many sign-in attempts" in held.text, "even the right password waits"

        key = {"Authorization": f"Bearer {tenant.api_key}"}
        codes = [(await client.get("/api/v1/company", headers=key)).status_code for _ in range(34)]
        assert codes[:30] == [200] * 30 and codes[-1] == 429
        limited = await client.get("/api/v1/company", headers=key)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert "too many requests" in limited.json()["detail"]
        # Another key has a budget of its own.
        other = await new_tenant(db)
        assert (await client.get("/api/v1/company", headers={"Authorization": f"Bearer {other.api_key}"})).is_success


async def test_forms_without_the_csrf_token_change_nothing(gateway_url: str, tenant: Tenant) -> None:
    client = await signed_in(gateway_url, tenant)
    try:
        for path, data in (
            ("/people/roles", {"name": "Forged role", "skills": "SQL: 3"}),
            ("/people/roles", {"name": "Forged role", "skills": "SQL: 3", "csrf_token": "not-the-token"}),
            ("/generate", {"employees": "all"}),
        ):
            refused = await client.post(path, data=data)
            assert refused.status_code == 403 and "CSRF check failed" in refused.text, path
        assert "Forged role" not in (await client.get("/people")).text
    finally:
        await client.aclose()


async def test_people_are_added_and_edited_in_the_page(gateway_url: str, tenant: Tenant) -> None:
    client = await signed_in(gateway_url, tenant)
    try:
        token = await form_token(client, "/people")
        made = await client.post(
            "/people/roles",
            data={
                "csrf_token": token,
                "name": "Analytics Engineer",
                "description": "dbt",
                "skills": "SQL: 4: 5\ndbt: 3",
            },
        )
        assert made.status_code == 303
        page = (await client.get("/people")).text
        assert "Analytics Engineer" in page
        bad = await client.post("/people/roles", data={"csrf_token": token, "name": "Bad", "skills": "SQL: 9"})
        assert bad.status_code == 422 and "required_level" in bad.text
        worse = await client.post("/people/roles", data={"csrf_token": token, "name": "Worse", "skills": "SQL"})
        assert worse.status_code == 422 and "skill line 1: write it as" in worse.text

        added = await client.post(
            "/people/employees",
            data={"csrf_token": token, "full_name": "Mía Ölander", "email": "mia@example.com", "skills": "SQL: 2"},
        )
        assert added.status_code == 303
        employee_page = added.headers["location"]
        employee_id = employee_page.rsplit("/", 1)[1]
        assert "Mía Ölander" in (await client.get(employee_page)).text
        edited = await client.post(
            "/people/employees",
            data={"csrf_token": token, "employee_id": employee_id, "full_name": "Mía Ölander-Berg", "skills": "SQL: 3"},
        )
        assert edited.status_code == 303
        assert "Mía Ölander-Berg" in (await client.get(employee_page)).text
        level = await client.post(
            "/people/employees", data={"csrf_token": token, "full_name": "X", "skills": "SQL: high"}
        )
        assert level.status_code == 422 and "whole number" in level.text
    finally:
        await client.aclose()


async def test_a_document_is_uploaded_read_and_deleted_in_the_page(
    gateway_url: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    client = await signed_in(gateway_url, tenant)
    other = await signed_in(gateway_url, other_tenant)
    try:
        token = await form_token(client, "/knowledge")
        text = b"# Incident reviews\n\nA blameless review names the conditions, not the people.\n"
        uploaded = await client.post(
            "/knowledge", data={"csrf_token": token}, files={"file": ("reviews.md", text, "text/markdown")}
        )
        assert uploaded.status_code == 303
        document = uploaded.headers["location"]
        shown = await client.get(document)
        assert shown.status_code == 200 and "blameless review names the conditions" in shown.text
        found = await client.get("/knowledge", params={"q": "blameless review"})
        assert document in found.text
        assert (await other.get(document)).status_code == 404
        refused = await other.post(f"{document}/delete", data={"csrf_token": await form_token(other, "/knowledge")})
        assert refused.status_code == 404
        deleted = await client.post(f"{document}/delete", data={"csrf_token": token})
        assert deleted.status_code == 303
        assert (await client.get(document)).status_code == 404
        empty = await client.post("/knowledge", data={"csrf_token": token})
        assert empty.status_code == 422 and "choose a file" in empty.text
    finally:
        await client.aclose()
        await other.aclose()


@pytest.mark.parametrize(("button", "subject"), [("cancel", JOB_CANCEL), ("resume", JOB_RESUME)])
async def test_the_job_pages_resume_and_cancel_buttons_send_the_companys_command(
    gateway_url: str, tenant: Tenant, other_tenant: Tenant, settings: Settings, db: asyncpg.Pool[Any],
    button: str, subject: str,
) -> None:  # fmt: skip
    job_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO course_generation_jobs (job_id, company_id, total_employees) VALUES ($1, $2, 1)",
        job_id,
        tenant.company_id,
    )
    client = await signed_in(gateway_url, tenant)
    other = await signed_in(gateway_url, other_tenant)
    assert settings.nats_url
    nc = await nats.connect(settings.nats_url)
    try:
        sub = await nc.subscribe(subject)
        page = await client.get(f"/jobs/{job_id}")
        assert page.status_code == 200 and f'action="/jobs/{job_id}/{button}"' in page.text
        token = CSRF.search(page.text)
        assert token
        theirs = await other.post(f"/jobs/{job_id}/{button}", data={"csrf_token": await form_token(other, "/jobs")})
        assert theirs.status_code == 404
        sent = await client.post(f"/jobs/{job_id}/{button}", data={"csrf_token": token.group(1)})
        assert sent.status_code == 303 and sent.headers["location"] == f"/jobs/{job_id}?{button}=requested"
        command = json.loads((await sub.next_msg(timeout=10)).data)
        assert (command["job_id"], command["company_id"]) == (str(job_id), str(tenant.company_id))
        assert (await client.post(f"/jobs/{job_id}/explode", data={"csrf_token": token.group(1)})).status_code == 404
    finally:
        await nc.close()
        await client.aclose()
        await other.aclose()
