"""Liveness and readiness of a service over HTTP, for Kubernetes probes and compose healthchecks.

``GET /healthz`` answers 200 while the process's event loop runs. ``GET /readyz``
answers 200 only when the service is connected to NATS, its PostgreSQL pool
answers a query, and each of its durable consumers exists on the server; it
answers 503 otherwise, with a JSON body that names what is not ready:

    {"status": "not ready", "service": "planner",
     "checks": {"started": "ok", "nats": "not connected", "database": "ok", "consumers": "..."}}

Both listen on ``COURSEGEN_HEALTH_PORT`` (0: not served). The server is plain
asyncio: two fixed GET routes need no framework, and it must not take over the
signals that the service's own shutdown relies on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coursegen.shared.store import Database
from coursegen.shared.store.health import ping

log = logging.getLogger("coursegen.health")

CHECK_TIMEOUT_SECONDS = 2.0
"""Each readiness check gives up after this long: a probe must get an answer, not hang."""
REQUEST_TIMEOUT_SECONDS = 5.0
MAX_HEADER_LINES = 100

OK = "ok"

Check = Callable[[], Awaitable[str]]
"""A readiness check: returns ``"ok"`` or says what is wrong."""


@dataclass
class ServiceReadiness:
    """What a running service reports on ``/readyz``; filled in as the service starts."""

    service: str
    consumers: Sequence[tuple[str, str]]
    """(stream, durable) of every consumer the service takes messages from."""
    broker: Any = None
    """The FastStream ``NatsBroker``, once the service has one."""
    db: Database | None = None
    started: bool = False
    stopping: bool = False
    _checks: dict[str, Check] = field(init=False)

    def __post_init__(self) -> None:
        self._checks = {
            "started": self._started,
            "nats": self._nats,
            "database": self._database,
            "consumers": self._consumers,
        }

    async def checks(self) -> dict[str, str]:
        """Every check's answer, each bounded in time, run side by side."""
        names = list(self._checks)
        results = await asyncio.gather(*(_bounded(self._checks[name]) for name in names))
        return dict(zip(names, results, strict=True))

    async def _started(self) -> str:
        if self.stopping:
            return "stopping"
        return OK if self.started else "starting"

    def _connection(self) -> Any:
        if self.broker is None:
            return None
        try:
            return self.broker.connection
        except Exception:  # FastStream raises until the broker has connected
            return None

    async def _nats(self) -> str:
        connection = self._connection()
        if connection is None:
            return "not connected yet"
        return OK if connection.is_connected else "not connected"

    async def _database(self) -> str:
        if self.db is None:
            return "no pool yet"
        async with self.db.connection() as conn:
            await ping(conn)
        return OK

    async def _consumers(self) -> str:
        connection = self._connection()
        if connection is None or not connection.is_connected:
            return "NATS not connected"
        js = connection.jetstream()
        missing: list[str] = []
        for stream, durable in self.consumers:
            try:
                await js.consumer_info(stream, durable, timeout=CHECK_TIMEOUT_SECONDS)
            except Exception as exc:
                missing.append(f"{durable} on {stream}: {type(exc).__name__}")
        return OK if not missing else "not bound: " + ", ".join(missing)


async def _bounded(check: Check) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return await check()
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]


class HealthServer:
    """Serves ``/healthz`` and ``/readyz`` for one service on ``host:port``; port 0 serves nothing."""

    def __init__(self, readiness: ServiceReadiness, host: str, port: int) -> None:
        self.readiness = readiness
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._routes: Mapping[str, Callable[[], Awaitable[tuple[int, dict[str, Any]]]]] = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
        }

    async def start(self) -> None:
        if not self.port:
            return
        self._server = await asyncio.start_server(self._answer, self.host, self.port)
        log.info("health on http://%s:%d/healthz and /readyz", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _healthz(self) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "alive", "service": self.readiness.service}

    async def _readyz(self) -> tuple[int, dict[str, Any]]:
        checks = await self.readiness.checks()
        ready = all(answer == OK for answer in checks.values())
        body = {"status": "ready" if ready else "not ready", "service": self.readiness.service, "checks": checks}
        return (200 if ready else 503), body

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body, head_only = await self._respond(reader)
            payload = json.dumps(body).encode()
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(
                status, "Service Unavailable"
            )
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n"
                "Cache-Control: no-store\r\n"
                "Connection: close\r\n\r\n".encode()
                + (b"" if head_only else payload)
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a client that went away or sent garbage: nothing to answer
        except Exception:
            log.exception("health request failed")
        finally:
            writer.close()

    async def _respond(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, Any], bool]:
        async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
            request_line = (await reader.readline()).decode("latin-1")
            for _ in range(MAX_HEADER_LINES):
                if (await reader.readline()) in (b"\r\n", b"\n", b""):
                    break
            else:
                return 400, {"error": "too many header lines"}, False
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return 400, {"error": "not an HTTP request line"}, False
        method, target = parts[0], parts[1].split("?", 1)[0]
        route = self._routes.get(target)
        if route is None:
            return 404, {"error": f"no such path; try {', '.join(self._routes)}"}, False
        if method not in ("GET", "HEAD"):
            return 405, {"error": "only GET and HEAD"}, False
        status, body = await route()
        return status, body, method == "HEAD"
