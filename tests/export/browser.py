"""Headless Debian Chromium through Playwright, and a local web server for packages and the LMS host page."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
NODE_MODULES = Path(__file__).parent / "node_modules"


def scorm_again(name: str) -> Path:
    """A file of the scorm-again run-time (installed by ``npm ci`` in tests/export, which .ci/run does)."""
    path = NODE_MODULES / "scorm-again" / "dist" / name
    if not path.exists():
        raise AssertionError(f"{path} is missing: run `npm ci` in tests/export (the CI script does)")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 on a free port; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
