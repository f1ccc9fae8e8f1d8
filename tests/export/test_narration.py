"""Narration audio: spoken by eSpeak NG in the multimedia stage, stored once, played in the page and exports."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from playwright.sync_api import expect

from coursegen.shared import speech
from coursegen.shared.courseview import CourseView, load_course_view
from coursegen.shared.export import export_course
from coursegen.shared.settings import Settings
from coursegen.shared.speech import SpeechError, SpeechSettings, synthesize
from coursegen.shared.store import Database, connect
from tests.export.browser import chromium
from tests.export.conftest import AssembledCourse


def _is_mp3(data: bytes) -> bool:
    return data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


async def _load(settings: Settings, course: AssembledCourse) -> CourseView:
    assert settings.database_url
    db = Database(await connect(settings.database_url))
    try:
        async with db.connection() as conn:
            view = await load_course_view(conn, course.course_id, course.company_id)
    finally:
        await db.close()
    assert view is not None
    return view


async def test_every_module_of_a_generated_course_has_its_narration_audio(
    settings: Settings, assembled_course: AssembledCourse
) -> None:
    view = await _load(settings, assembled_course)
    for module in view.modules:
        assert module.narration_audio is not None, module.title
        assert module.narration_audio.mime == "audio/mpeg"
        assert _is_mp3(module.narration_audio.data)
        assert len(module.narration_audio.data) > 10_000  # seconds of speech, not a blip


def test_the_audio_plays_from_the_standalone_file_and_is_in_every_scorm_package(
    settings: Settings, assembled_course: AssembledCourse, tmp_path: Path, artifacts: Path
) -> None:
    view = asyncio.run(_load(settings, assembled_course))
    first = view.modules[0].narration_audio
    assert first is not None
    encoded = base64.b64encode(first.data).decode()
    for fmt in ("scorm12", "scorm2004"):
        import io
        import zipfile

        with zipfile.ZipFile(io.BytesIO(export_course(view, fmt).data)) as archive:
            assert encoded in archive.read("index.html").decode()

    exported = export_course(view, "html")
    path = tmp_path / exported.filename
    path.write_bytes(exported.data)
    with chromium() as browser:
        context = browser.new_context(offline=True)
        page = context.new_page()
        page.goto(path.as_uri())
        page.get_by_role("link", name=view.modules[0].title, exact=True).click()
        audio = page.get_by_label("Narration of module 1")
        expect(audio).to_be_visible()
        duration = audio.evaluate(
            """a => new Promise((resolve, reject) => {
                a.addEventListener('loadedmetadata', () => resolve(a.duration));
                a.addEventListener('error', () => reject(new Error('the audio did not load')));
                a.load();
            })"""
        )
        page.screenshot(path=artifacts / "narration.png")
        context.close()
    assert duration > 2


def test_without_a_speech_engine_there_is_no_audio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech, "_library", lambda: None)
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    assert asyncio.run(synthesize("Hello there.", SpeechSettings())) is None


class _SpeechStub(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        self.send_response(self.status)
        self.send_header("Content-Type", "audio/mpeg")
        self.end_headers()
        self.wfile.write(b"ID3-fake-mp3" if self.status == 200 else b"overloaded")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def speech_endpoint() -> Iterator[str]:
    _SpeechStub.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SpeechStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


async def test_an_openai_compatible_speech_endpoint_when_configured(speech_endpoint: str) -> None:
    settings = SpeechSettings(url=speech_endpoint, model="tts-1", voice="nova", api_key="k")
    spoken = await synthesize("  Hello,\n learner. ", settings)
    assert spoken is not None and spoken.data == b"ID3-fake-mp3" and spoken.mime == "audio/mpeg"
    (request,) = _SpeechStub.requests
    assert request == {
        "path": "/v1/audio/speech",
        "auth": "Bearer k",
        "model": "tts-1",
        "input": "Hello, learner.",
        "voice": "nova",
        "response_format": "mp3",
    }
    _SpeechStub.status = 503
    try:
        with pytest.raises(SpeechError, match="answered 503"):
            await synthesize("Hello.", settings)
    finally:
        _SpeechStub.status = 200
