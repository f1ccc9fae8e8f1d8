"""xAPI: the exported player sends its statements to a real LRS (Ralph, from PyPI) started by the test.

Ralph pins versions that the workspace cannot share (sentry-sdk among them), so it runs in an
environment of its own through ``uvx``, the way a separate LRS service would. Its file-system backend
(the one that needs no database server) refuses every write after the first to its single file, so the
server is started with that backend appending instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from coursegen.shared.courseview import CourseView
from coursegen.shared.courseview.xapi import LrsSettings, course_iri
from coursegen.shared.export import export_course
from tests.export.browser import chromium, serve

SERVE = """
import sys
import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend
FSLRSBackend.default_operation_type = BaseOperationType.APPEND
from ralph.api import app
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
"""
RALPH = ("--with", "requests", "--from", "ralph-malph[cli,lrs]==5.1.0")  # requests: missing from its extras
VERBS = "http://adlnet.gov/expapi/verbs/"


@dataclass(frozen=True)
class Lrs:
    url: str
    username: str
    password: str

    def statements(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}statements",
            params={"limit": 500},
            auth=(self.username, self.password),
            headers={"X-Experience-API-Version": "1.0.3"},
        )
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["statements"]
        return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def ralph(tmp: Path, allow_origin: str) -> Iterator[Lrs]:
    uvx = shutil.which("uvx")
    if uvx is None:
        raise AssertionError("uvx (from uv) is needed to run the Ralph LRS")
    env = {
        **os.environ,
        "RALPH_RUNSERVER_BACKEND": "fs",
        "RALPH_APP_DIR": str(tmp / "ralph"),
        "RALPH_AUTH_FILE": str(tmp / "ralph" / "auth.json"),
        "RALPH_RUNSERVER_CORS_ALLOW_ORIGINS": json.dumps([allow_origin]),
        "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(tmp / "ralph" / "data"),
    }
    (tmp / "ralph" / "data").mkdir(parents=True)
    subprocess.run(
        [
            uvx,
            *RALPH,
            "ralph",
            "auth",
            "-u",
            "player",
            "-p",
            "s3cret",
            "-s",
            "all",
            "-M",
            "mailto:player@example.com",
            "-w",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    port = _free_port()
    log = (tmp / "ralph.log").open("w")
    process = subprocess.Popen(
        [uvx, *RALPH, "python", "-c", SERVE, str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp / "ralph", start_new_session=True,
    )  # fmt: skip
    lrs = Lrs(f"http://127.0.0.1:{port}/xAPI/", "player", "s3cret")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/whoami")  # any answer: it is up (401 without credentials)
                break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"Ralph did not start: {(tmp / 'ralph.log').read_text()}")
            time.sleep(0.3)
        yield lrs
    finally:
        # uvx and Ralph share the session started for them.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _verb(statement: dict[str, Any]) -> str:
    return str(statement["verb"]["id"]).removeprefix(VERBS)


def test_the_player_sends_launched_progressed_answered_completed_and_passed(
    tmp_path: Path, view: CourseView, artifacts: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    with serve(site) as base, ralph(tmp_path, base) as lrs:
        settings = LrsSettings(url=lrs.url, username=lrs.username, password=lrs.password)
        exported = export_course(view, "html", lrs=settings)
        (site / "course.html").write_bytes(exported.data)

        with chromium() as browser:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type in ("warning", "error") else None)
            page.goto(f"{base}/course.html")
            for index, module in enumerate(view.modules):
                page.get_by_role("link", name="Contents").click()
                page.get_by_role("link", name=module.title, exact=True).click()
                region = page.get_by_role("region", name=f"Module {index + 1}: {module.title}")
                for n, question in enumerate(module.quiz):
                    group = region.get_by_role("group", name=re.compile(rf"^Question {n + 1}:"))
                    group.get_by_label(question.options[question.answer_index], exact=True).check()
                region.get_by_role("button", name="Check answers").click()
                expect(region.get_by_role("status")).to_have_text(
                    f"You got {len(module.quiz)} of {len(module.quiz)} right."
                )
            page.evaluate("window.COURSEGEN_XAPI_PENDING")  # every statement's request has been answered
            page.screenshot(path=artifacts / "xapi-player.png")
            page.close()
        assert not errors, errors
        statements = lrs.statements()

    iri = course_iri(view)
    verbs = [_verb(s) for s in sorted(statements, key=lambda s: s["timestamp"])]
    assert verbs[0] == "launched"
    assert {"launched", "progressed", "answered", "completed", "passed"} <= set(verbs)
    assert "failed" not in verbs
    assert verbs.count("answered") == view.question_count
    by_verb = {_verb(s): s for s in statements}
    assert by_verb["launched"]["object"]["id"] == iri
    passed = by_verb["passed"]
    assert passed["object"]["id"] == iri
    assert passed["result"]["score"]["scaled"] == 1 and passed["result"]["success"] is True
    answered = [s for s in statements if _verb(s) == "answered"]
    module_ids = {f"{iri}:module:{m.index + 1}" for m in view.modules}
    assert {s["context"]["contextActivities"]["parent"][0]["id"] for s in answered} == module_ids
    assert all(s["result"]["success"] is True for s in answered)
    progressed_modules = {s["object"]["id"] for s in statements if _verb(s) == "progressed"}
    assert module_ids <= progressed_modules
    assert all(s["actor"]["account"]["homePage"] == "urn:coursegen:learner" for s in statements)


def test_a_bad_lrs_url_is_a_clear_error(view: CourseView) -> None:
    settings = LrsSettings(url="ftp://lrs", username="u", password="p")
    with pytest.raises(ValueError, match="COURSEGEN_LRS_URL 'ftp://lrs' is not an http"):
        export_course(view, "html", lrs=settings)
