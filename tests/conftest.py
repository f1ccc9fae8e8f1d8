"""Fixtures: real nats-server and PostgreSQL on free ports, started once per test session.

No test reaches a real model: ``_no_outside_network`` refuses any HTTP request
that leaves this machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from coursegen.shared.settings import Settings
from coursegen.shared.store import connect
from coursegen.stack.embedded import EmbeddedNats, EmbeddedPostgres
from coursegen.stack.migrate import migrate

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
os.environ.pop("OPENAI_API_KEY", None)


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", None)


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Looking up or connecting to any host but this machine fails the test: no real model is ever called."""
    original_getaddrinfo = socket.getaddrinfo
    original_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOCAL_HOSTS and not str(host).startswith("127."):
            raise AssertionError(f"a test tried to reach {host}: no test may leave this machine")
        return original_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not (host in LOCAL_HOSTS or str(host).startswith("127.")):
                raise AssertionError(f"a test tried to connect to {host}: no test may leave this machine")
        return original_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    # Not under pytest's own temp root: pytest resets that folder to 0700 at every session
    # start, which would lock out PostgreSQL's system user (it runs as its own user as root).
    path = Path(tempfile.mkdtemp(prefix="coursegen-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server(data_dir: Path) -> Iterator[EmbeddedNats]:
    # Every service with only its own permissions, as the embedded stack runs them.
    server = EmbeddedNats(data_dir / "nats", secure=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(data_dir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(data_dir / "postgres").start()
    migrate(server.owner_url)
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def settings(nats_server: EmbeddedNats, postgres: EmbeddedPostgres, data_dir: Path) -> Settings:
    return Settings(
        # Bare clients in tests act as the operator; each service connects as itself (the passwords file).
        nats_url=nats_server.url_as("admin"),
        nats_passwords_file=nats_server.passwords_file,
        database_url=postgres.url,
        # The gateway as in production: its own role, held to one company per transaction by row-level security.
        gateway_database_url=postgres.gateway_url,
        migrate_database_url=postgres.owner_url,
        data_dir=data_dir,
        model="offline",
        ack_wait_seconds=30,
        max_deliveries=4,
        retry_base_delay_seconds=0.2,
        retry_max_delay_seconds=1.0,
        # Tests reuse a company for many jobs that never run (nothing consumes them): the
        # per-company limits have tests of their own.
        max_active_jobs_per_company=10_000,
        max_jobs_per_minute_per_company=10_000,
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Pool[Any]]:
    assert settings.database_url
    pool = await connect(settings.database_url)
    yield pool
    await pool.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
