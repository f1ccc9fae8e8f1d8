"""A service connects to a NATS server that requires its own user and password (COURSEGEN_NATS_USER/PASSWORD)."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from coursegen.shared.service import running
from coursegen.shared.settings import Settings
from coursegen.stack.embedded import EmbeddedNats, free_port
from tests.helpers import service_definition
from tests.shared.test_health import wait_for_status


@pytest.fixture
def nats_with_users() -> Iterator[EmbeddedNats]:
    root = Path(tempfile.mkdtemp(prefix="coursegen-nats-auth-"))
    port, monitor = free_port(), free_port()
    config = root / "nats.conf"
    config.write_text(
        f"listen: 127.0.0.1:{port}\n"
        f"http: 127.0.0.1:{monitor}\n"
        f'jetstream {{ store_dir: "{root}" }}\n'
        "authorization { users = [ { user: planner, password: planner-secret } ] }\n"
    )
    server = EmbeddedNats(root, port=port, monitor_port=monitor, config=config).start()
    try:
        yield server
    finally:
        server.stop()


def connect_anonymously(port: int) -> bytes:
    """What the server answers a client that connects with no user (NATS's text protocol)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.recv(4096)  # INFO
        sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
        return sock.recv(4096)


async def test_a_service_signs_in_with_its_own_user(settings: Settings, nats_with_users: EmbeddedNats) -> None:
    # Without credentials the server turns a client away: the service's readiness proves it signed in.
    assert b"Authorization Violation" in await asyncio.to_thread(connect_anonymously, nats_with_users.port)
    port = free_port()
    service_settings = settings.model_copy(
        update={
            "nats_url": nats_with_users.url,
            "health_port": port,
            "nats_user": "planner",
            "nats_password": "planner-secret",
        }
    )
    service_settings = Settings.model_validate(service_settings.model_dump())
    async with running(service_definition("planner"), service_settings):
        body = await wait_for_status(port, "/readyz", 200)
        assert body["checks"]["nats"] == "ok"
