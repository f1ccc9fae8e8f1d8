"""A running gateway (uvicorn, in the test's event loop) on the session's nats-server and PostgreSQL,
and companies with a user and an API key each."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from coursegen.gateway.app import create_app
from coursegen.gateway.security import hash_password, new_api_key
from coursegen.gateway.settings import GatewaySettings
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database
from coursegen.shared.store.users import create_api_key, create_user
from coursegen.stack.seed import EMPLOYEES, DemoEmployee
from tests.helpers import make_company

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
"""The CSRF token a page's forms carry."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Tenant:
    company_id: uuid.UUID
    employees: dict[str, uuid.UUID]
    """Employee ids by email."""
    email: str
    password: str
    api_key: str


@contextlib.asynccontextmanager
async def serve_gateway(settings: Settings, gw: GatewaySettings) -> AsyncIterator[str]:
    """A gateway with these settings on a free port, in this event loop; its base URL."""
    port = free_port()
    app = create_app(settings, gw)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


@pytest.fixture(scope="session")
async def gateway_url(settings: Settings) -> AsyncIterator[str]:
    gw = GatewaySettings(
        _env_file=None,
        host="127.0.0.1",
        rate_per_second=1000,
        rate_burst=5000,  # type: ignore[call-arg]
        max_csv_rows=50,
        max_upload_bytes=256 * 1024,
    )
    async with serve_gateway(settings, gw) as url:
        yield url


async def new_tenant(db: asyncpg.Pool[Any], *, employees: Sequence[DemoEmployee] = EMPLOYEES) -> Tenant:
    company_id, employees_by_email = await make_company(db, employees=employees)
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    key, prefix, key_hash = new_api_key()
    async with Database(db).transaction(company_id) as conn:
        await create_user(
            conn, company_id=company_id, email=email, name="Test User", password_hash=hash_password(PASSWORD)
        )
        await create_api_key(conn, company_id=company_id, name="tests", prefix=prefix, key_hash=key_hash)
    return Tenant(company_id, employees_by_email, email, PASSWORD, key)


@pytest.fixture
async def tenant(db: asyncpg.Pool[Any]) -> Tenant:
    return await new_tenant(db)


@pytest.fixture
async def other_tenant(db: asyncpg.Pool[Any]) -> Tenant:
    return await new_tenant(db)


@pytest.fixture
async def client(gateway_url: str, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {tenant.api_key}"}, timeout=30
    ) as c:
        yield c


@pytest.fixture
async def other_client(gateway_url: str, other_tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {other_tenant.api_key}"}, timeout=30
    ) as c:
        yield c


async def signed_in(gateway_url: str, tenant: Tenant) -> httpx.AsyncClient:
    """A browser-like client signed in as the tenant's user (the session cookie, no API key)."""
    client = httpx.AsyncClient(base_url=gateway_url, timeout=30)
    token = CSRF.search((await client.get("/login")).text)
    assert token
    answer = await client.post(
        "/login", data={"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text
    return client


async def form_token(client: httpx.AsyncClient, path: str = "/review") -> str:
    """The CSRF token of the forms on a page."""
    found = CSRF.search((await client.get(path)).text)
    assert found, f"no form on {path}"
    return found.group(1)
