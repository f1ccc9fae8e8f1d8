"""``/healthz`` and ``/readyz`` of a running service, against a real nats-server and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coursegen.shared.service import build_app, running
from coursegen.shared.settings import Settings
from coursegen.stack.embedded import EmbeddedNats, free_port
from tests.helpers import service_definition


@pytest.fixture
def own_nats() -> Iterator[EmbeddedNats]:
    """A nats-server of this test's own: stopping the session's would disturb other tests."""
    server = EmbeddedNats(Path(tempfile.mkdtemp(prefix="coursegen-health-")) / "nats").start()
    try:
        yield server
    finally:
        server.stop()


def get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if body else {})
    finally:
        conn.close()


async def probe(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
    return await asyncio.to_thread(get, port, path, method)


async def wait_for_status(port: int, path: str, status: int, *, timeout: float = 30) -> dict[str, Any]:
    """Poll a probe until it answers ``status``; fail with its last answer."""
    deadline = time.monotonic() + timeout
    answer: tuple[int, dict[str, Any]] | None = None
    while time.monotonic() < deadline:
        with contextlib.suppress(ConnectionError):
            answer = await probe(port, path)
            if answer[0] == status:
                return answer[1]
        await asyncio.sleep(0.2)
    raise AssertionError(f"{path} did not answer {status} within {timeout}s; last answer: {answer}")


async def test_ready_when_connected_not_ready_while_nats_is_away(settings: Settings, own_nats: EmbeddedNats) -> None:
    port = free_port()
    service_settings = settings.model_copy(update={"nats_url": own_nats.url, "health_port": port})
    async with running(service_definition("planner"), service_settings):
        body = await wait_for_status(port, "/readyz", 200)
        assert body == {
            "status": "ready",
            "service": "planner",
            "checks": {"started": "ok", "nats": "ok", "database": "ok", "consumers": "ok"},
        }
        assert await probe(port, "/healthz") == (200, {"status": "alive", "service": "planner"})

        await asyncio.to_thread(own_nats.stop)
        body = await wait_for_status(port, "/readyz", 503)
        assert body["status"] == "not ready"
        assert body["checks"]["nats"] != "ok" and body["checks"]["consumers"] != "ok"
        assert body["checks"]["database"] == "ok"
        status, _ = await probe(port, "/healthz")
        assert status == 200, "the process is alive: a liveness probe must not restart it over a NATS outage"

        await asyncio.to_thread(own_nats.start)
        body = await wait_for_status(port, "/readyz", 200, timeout=60)
        assert set(body["checks"].values()) == {"ok"}


async def test_the_tracker_is_ready_once_both_of_its_consumers_are_bound(settings: Settings) -> None:
    port = free_port()
    async with running(service_definition("tracker"), settings.model_copy(update={"health_port": port})):
        body = await wait_for_status(port, "/readyz", 200)
        assert body["checks"]["consumers"] == "ok"


async def test_alive_but_not_ready_while_the_database_cannot_be_reached(settings: Settings) -> None:
    port = free_port()
    unreachable = f"postgresql://coursegen@127.0.0.1:{free_port()}/coursegen"
    app = build_app(
        service_definition("planner"),
        settings.model_copy(update={"health_port": port, "database_url": unreachable}),
    )

    async def start() -> None:
        async with app.lifespan_context():
            await app.start()

    starting = asyncio.create_task(start())
    try:
        assert await wait_for_status(port, "/healthz", 200) == {"status": "alive", "service": "planner"}
        status, body = await probe(port, "/readyz")
        assert status == 503
        assert body["checks"]["started"] == "starting"
        assert body["checks"]["database"] == "no pool yet"
    finally:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
    with pytest.raises(ConnectionError):
        await probe(port, "/healthz")  # a service that gave up starting serves no probe


async def test_bad_requests_get_a_clear_answer(settings: Settings) -> None:
    port = free_port()
    async with running(service_definition("planner"), settings.model_copy(update={"health_port": port})):
        await wait_for_status(port, "/readyz", 200)
        status, body = await probe(port, "/nowhere")
        assert status == 404 and "/healthz" in body["error"]
        status, body = await probe(port, "/healthz", method="POST")
        assert status == 405 and body == {"error": "only GET and HEAD"}

        def garbage() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"\x00\x01 not http\r\n\r\n")
                return sock.recv(4096)

        answer = await asyncio.to_thread(garbage)
        assert answer.startswith(b"HTTP/1.1 400 ")
        # Still serving after all of that.
        assert (await probe(port, "/healthz"))[0] == 200
