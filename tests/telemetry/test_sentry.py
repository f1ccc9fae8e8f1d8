"""Optional Sentry: with ``SENTRY_DSN`` a service's errors reach Sentry, tagged, without employee data.

A service process is stood in for by a child process that sets telemetry up the
way every service does and logs a failure; a receiver of the test's own speaks
Sentry's envelope protocol.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MARKER = "Zqx-Private-4410"

SERVICE = textwrap.dedent(
    """
    import logging, os
    from coursegen.shared import telemetry
    from coursegen.shared.settings import Settings

    telemetry.configure_telemetry("content", Settings())
    import sentry_sdk
    print("sentry on" if sentry_sdk.is_initialized() else "sentry off", flush=True)

    def write_module(profile):
        raise ValueError("the module could not be written")

    try:
        write_module({"name": os.environ["EMPLOYEE_NAME"]})
    except ValueError:
        logging.getLogger("coursegen.stage").exception("content failed permanently")
    telemetry.shutdown()
    """
)


class SentryReceiver(BaseHTTPRequestHandler):
    envelopes: list[list[dict[str, Any]]]
    raw: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding:
            raise AssertionError(f"unexpected Content-Encoding {encoding}")
        self.raw.append(body)
        # An envelope: one JSON header line, then item header / item payload line pairs.
        self.envelopes.append([json.loads(line) for line in body.splitlines() if line.strip()])
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[SentryReceiver]]]:
    handler = type("Handler", (SentryReceiver,), {"envelopes": [], "raw": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1", handler
    finally:
        server.shutdown()
        server.server_close()


def run_service(env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "OTEL_", "COURSEGEN_"))}
    done = subprocess.run(
        [sys.executable, "-c", SERVICE],
        env={**base, "OTEL_SDK_DISABLED": "true", "EMPLOYEE_NAME": MARKER, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def events(handler: type[SentryReceiver]) -> list[dict[str, Any]]:
    found = []
    for envelope in handler.envelopes:
        for header, payload in zip(envelope[1::2], envelope[2::2], strict=False):
            if header.get("type") == "event":
                found.append(payload)
    return found


def test_errors_reach_sentry_tagged_with_the_service(receiver: tuple[str, type[SentryReceiver]]) -> None:
    dsn, handler = receiver
    assert "sentry on" in run_service({"SENTRY_DSN": dsn, "SENTRY_ENVIRONMENT": "test"})
    [event] = events(handler)
    assert event["level"] == "error"
    assert event["tags"]["service"] == "content"
    assert event["environment"] == "test"
    assert event["logentry"]["message"] == "content failed permanently"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "ValueError"
    assert any(frame["function"] == "write_module" for frame in exception["stacktrace"]["frames"])


def test_sentry_events_carry_no_employee_data_by_default(receiver: tuple[str, type[SentryReceiver]]) -> None:
    dsn, handler = receiver
    run_service({"SENTRY_DSN": dsn})
    assert events(handler), "no event arrived: nothing to look at"
    # The failing frame's local variable held the employee's name: stack locals stay out.
    assert not any(MARKER.encode() in body for body in handler.raw)


def test_sensitive_data_setting_lets_stack_locals_through(receiver: tuple[str, type[SentryReceiver]]) -> None:
    """The counterpart: the marker is there to be found, so its absence above means something."""
    dsn, handler = receiver
    run_service({"SENTRY_DSN": dsn, "COURSEGEN_TRACE_SENSITIVE_DATA": "true"})
    assert any(MARKER.encode() in body for body in handler.raw)


def test_without_a_dsn_sentry_is_not_initialised(receiver: tuple[str, type[SentryReceiver]]) -> None:
    _, handler = receiver
    assert "sentry off" in run_service({})
    assert handler.envelopes == []
