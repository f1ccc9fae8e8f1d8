"""Each SCORM package played in headless Chromium under the scorm-again run-time as the LMS, as a learner would.

The host page stands in for an LMS: it puts scorm-again's API on its window and opens the package's launch page
in an iframe, so the package has to find the API by walking up its parents. What the LMS recorded is read from
the run-time's own data model. A second session starts from what the first left (as an LMS does on resume).
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

from coursegen.shared.courseview import CourseView
from coursegen.shared.export import export_course
from tests.export.browser import chromium, scorm_again, serve

HOST = """<!doctype html>
<html><head><meta charset="utf-8"><title>LMS</title><script src="{runtime}"></script></head>
<body>
<script>
  var saved = location.hash.length > 1 ? JSON.parse(decodeURIComponent(location.hash.slice(1))) : null;
  window.{api} = new {cls}({{ autocommit: false, logLevel: 5 }});
  if (saved) {{ window.{api}.loadFromFlattenedJSON(saved); }}
  window.lmsCalls = [];
  {calls}.forEach(function (name) {{ window.{api}.on(name, function () {{ window.lmsCalls.push(name); }}); }});
</script>
<iframe title="Course" src="pkg/index.html" style="width: 100%; height: 90vh"></iframe>
</body></html>
"""

VERSIONS = {
    "scorm12": {
        "runtime": "scorm12.min.js",
        "api": "API",
        "cls": "Scorm12API",
        "calls": ["LMSInitialize", "LMSCommit", "LMSFinish"],
        "carry": ("cmi.core.lesson_location", "cmi.suspend_data", "cmi.core.lesson_status", "cmi.core.score."),
        "entry": "cmi.core.entry",
    },
    "scorm2004": {
        "runtime": "scorm2004.min.js",
        "api": "API_1484_11",
        "cls": "Scorm2004API",
        "calls": ["Initialize", "Commit", "Terminate"],
        "carry": ("cmi.location", "cmi.suspend_data", "cmi.completion_status", "cmi.success_status", "cmi.score."),
        "entry": "cmi.entry",
    },
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _site(tmp_path: Path, view: CourseView, fmt: str) -> Path:
    spec = VERSIONS[fmt]
    exported = export_course(view, fmt)
    with zipfile.ZipFile(__import__("io").BytesIO(exported.data)) as archive:
        archive.extractall(tmp_path / "pkg")
    shutil.copy(scorm_again(spec["runtime"]), tmp_path / spec["runtime"])
    host = HOST.format(runtime=spec["runtime"], api=spec["api"], cls=spec["cls"], calls=json.dumps(spec["calls"]))
    (tmp_path / "host.html").write_text(host, encoding="utf-8")
    return tmp_path


def _open(browser: Browser, url: str, saved: dict[str, str] | None = None) -> tuple[Page, FrameLocator]:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + ("#" + urllib.parse.quote(json.dumps(saved)) if saved else ""))
    frame = page.frame_locator("iframe[title=Course]")
    expect(frame.locator(".cg-course")).to_be_visible()
    page.wait_for_function("window.lmsCalls.length > 0")
    assert not errors, errors
    return page, frame


def _answer_module(frame: FrameLocator, view: CourseView, index: int, *, wrong: set[int] = frozenset()) -> None:
    """Open a module from the learning path, pick an answer per question (wrong where asked), check them."""
    module = view.modules[index]
    frame.get_by_role("link", name=module.title, exact=True).click()
    region = frame.get_by_role("region", name=f"Module {index + 1}: {module.title}")
    expect(region).to_be_visible()
    for n, question in enumerate(module.quiz):
        pick = question.answer_index if n not in wrong else (question.answer_index + 1) % len(question.options)
        group = region.get_by_role("group", name=re.compile(rf"^Question {n + 1}:"))
        group.get_by_label(question.options[pick], exact=True).check()
    region.get_by_role("button", name="Check answers").click()
    right = len(module.quiz) - len(wrong)
    expect(region.get_by_role("status")).to_have_text(f"You got {right} of {len(module.quiz)} right.")


def _go_to_path(frame: FrameLocator) -> None:
    # The learning path is on the first page of the player.
    frame.get_by_role("navigation", name="Course navigation").get_by_role("link", name="Contents").click()


def _leave(page: Page, api: str) -> dict[str, str]:
    """Close the course the way an LMS does (the SCO's window goes away) and read what the LMS stored."""
    page.locator("iframe[title=Course]").evaluate("f => { f.src = 'about:blank'; }")
    page.wait_for_function("window.lmsCalls.includes('LMSFinish') || window.lmsCalls.includes('Terminate')")
    record: dict[str, Any] = page.evaluate(f"window.{api}.getFlattenedCMI()")
    return {k: str(v) for k, v in record.items()}


def _carry_over(record: dict[str, str], fmt: str) -> dict[str, str]:
    """What an LMS hands the next session of the same attempt: the learner's data, and entry = resume."""
    spec = VERSIONS[fmt]
    kept = {k: v for k, v in record.items() if k.startswith(spec["carry"]) or k.startswith("cmi.interactions.")}
    return {**kept, spec["entry"]: "resume"}


def _pct(right: int, of: int) -> int:
    return round(100 * right / of)


def test_scorm12_records_bookmark_progress_score_and_status_and_resumes(
    tmp_path: Path, browser: Browser, view: CourseView, artifacts: Path
) -> None:
    site = _site(tmp_path, view, "scorm12")
    total = view.question_count
    with serve(site) as base:
        # First session: the first module's quiz, then on to the third module, then away.
        page, frame = _open(browser, f"{base}/host.html")
        _answer_module(frame, view, 0)
        frame.get_by_role("button", name="Next").click()
        frame.get_by_role("button", name="Next").click()
        expect(frame.get_by_role("heading", name=f"Module 3: {view.modules[2].title}")).to_be_visible()
        page.screenshot(path=artifacts / "scorm12-first-session.png")
        first = _leave(page, "API")
        page.close()

        assert first["cmi.core.lesson_location"] == "module-3"
        assert first["cmi.core.lesson_status"] == "incomplete"
        assert first["cmi.core.score.raw"] == str(_pct(len(view.modules[0].quiz), total))
        progress = json.loads(first["cmi.suspend_data"])
        assert progress["checked"] == ["0"]
        assert len(progress["answers"]) == len(view.modules[0].quiz)

        # Second session: resumes at the bookmark with the first module's answers kept.
        page, frame = _open(browser, f"{base}/host.html", _carry_over(first, "scorm12"))
        expect(frame.get_by_role("heading", name=f"Module 3: {view.modules[2].title}")).to_be_visible()
        _go_to_path(frame)
        frame.get_by_role("link", name=view.modules[0].title, exact=True).click()
        expect(
            frame.get_by_role("region", name=f"Module 1: {view.modules[0].title}").get_by_role("status")
        ).to_have_text(f"You got {len(view.modules[0].quiz)} of {len(view.modules[0].quiz)} right.")
        for index in range(1, len(view.modules)):
            _go_to_path(frame)
            _answer_module(frame, view, index, wrong={0} if index == 1 else set())
        page.screenshot(path=artifacts / "scorm12-second-session.png")
        second = _leave(page, "API")
        page.close()

    expected = _pct(total - 1, total)
    assert expected >= view.pass_mark
    assert second["cmi.core.lesson_status"] == "passed"
    assert second["cmi.core.score.raw"] == str(expected)
    assert (second["cmi.core.score.min"], second["cmi.core.score.max"]) == ("0", "100")
    assert second["cmi.core.lesson_location"] == f"module-{len(view.modules)}"
    assert sorted(json.loads(second["cmi.suspend_data"])["checked"]) == [str(i) for i in range(len(view.modules))]


def test_scorm2004_records_status_score_and_interactions_and_resumes(
    tmp_path: Path, browser: Browser, view: CourseView, artifacts: Path
) -> None:
    site = _site(tmp_path, view, "scorm2004")
    total = view.question_count
    with serve(site) as base:
        page, frame = _open(browser, f"{base}/host.html")
        _answer_module(frame, view, 0, wrong={0})
        first = _leave(page, "API_1484_11")
        page.close()
        assert first["cmi.location"] == "module-1"
        assert first["cmi.completion_status"] == "incomplete"
        assert first["cmi.success_status"] == "unknown"
        assert first["cmi.interactions.0.id"] == "m1-q1"
        assert first["cmi.interactions.0.result"] == "incorrect"

        page, frame = _open(browser, f"{base}/host.html", _carry_over(first, "scorm2004"))
        expect(frame.get_by_role("heading", name=f"Module 1: {view.modules[0].title}")).to_be_visible()
        # Wrong answers everywhere else: the learner fails the course, and every answer is an interaction.
        for index in range(1, len(view.modules)):
            _go_to_path(frame)
            _answer_module(frame, view, index, wrong=set(range(len(view.modules[index].quiz))))
        page.screenshot(path=artifacts / "scorm2004-second-session.png")
        second = _leave(page, "API_1484_11")
        page.close()

    right = len(view.modules[0].quiz) - 1
    assert second["cmi.completion_status"] == "completed"
    assert second["cmi.success_status"] == "failed"
    assert second["cmi.score.raw"] == str(_pct(right, total))
    assert float(second["cmi.score.scaled"]) == pytest.approx(_pct(right, total) / 100)
    assert second["cmi.location"] == f"module-{len(view.modules)}"
    interactions = {second[f"cmi.interactions.{n}.id"]: second[f"cmi.interactions.{n}.result"] for n in range(total)}
    expected = {
        m.question_id(n): ("correct" if m.index == 0 and n != 0 else "incorrect")
        for m in view.modules
        for n in range(len(m.quiz))
    }
    assert interactions == expected
    first_question = view.modules[0].quiz[0]
    assert second["cmi.interactions.0.type"] == "choice"
    wrong_letter = "abcd"[(first_question.answer_index + 1) % 4]
    assert second["cmi.interactions.0.learner_response"] == wrong_letter
    assert f"cmi.interactions.{total}.id" not in second
