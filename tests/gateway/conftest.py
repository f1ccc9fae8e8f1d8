"""A running gateway (uvicorn, in the test's event loop) on the session's nats-server and PostgreSQL,
and companies with a user and an API key each."""

from __future__ import annotations

import asyncio
import contextlib
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


@pytest.fixture(scope="session")
async def gateway_url(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    gw = GatewaySettings(
        _env_file=None,
        host="127.0.0.1",
        port=port,
        rate_per_second=1000,
        rate_burst=5000,  # type: ignore[call-arg]
        max_csv_rows=50,
        max_upload_bytes=256 * 1024,
    )
    app = create_app(settings, gw)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


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
