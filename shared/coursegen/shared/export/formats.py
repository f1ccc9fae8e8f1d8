"""The export formats, each a function from a course view to one file's bytes."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from coursegen.shared.courseview import CourseView, render_course_page
from coursegen.shared.courseview.xapi import LrsSettings, xapi_scripts
from coursegen.shared.export._templates import render_xml, static_text


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    data: bytes


class UnknownFormatError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown export format {name!r}: use one of {', '.join(FORMATS)}")
        self.name = name


LAUNCH = "index.html"
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-") or "course"


def _identifier(view: CourseView) -> str:
    # An XML ID (and a QTI identifier): starts with a letter, no spaces.
    return f"coursegen-{view.course_id.hex if view.course_id else slug(view.title)}"


def _zip(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            # A fixed date: exporting the same course twice gives the same bytes.
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def player_page(view: CourseView, *, scripts: tuple[str, ...] = (), connect_src: tuple[str, ...] = ()) -> str:
    """The course as one self-contained page, one page of the course at a time, with the given run-time adapters."""
    return render_course_page(view, standalone=True, paged=True, scripts=scripts, connect_src=connect_src)


def _reporting(view: CourseView, options: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Scripts to add to a player, and the origins they may reach: xAPI when an LRS is given."""
    scripts: tuple[str, ...] = tuple(options.get("scripts", ()))
    connect_src: tuple[str, ...] = tuple(options.get("connect_src", ()))
    lrs: LrsSettings | None = options.get("lrs")
    if lrs is not None:
        learner = str(view.employee_id) if view.employee_id else "learner"
        xapi = xapi_scripts(view, lrs, learner_id=learner, learner_name=view.employee)
        if xapi is not None:
            scripts += xapi.scripts
            connect_src += xapi.connect_src
    return scripts, connect_src


def _scorm(view: CourseView, version: str, options: Mapping[str, Any]) -> bytes:
    config = "window.COURSEGEN_SCORM = " + json.dumps({"version": version}) + ";"
    extra_scripts, connect_src = _reporting(view, options)
    page = player_page(view, scripts=(config, static_text("scorm.js"), *extra_scripts), connect_src=connect_src)
    files = {LAUNCH: page.encode("utf-8")}
    manifest = render_xml(
        "scorm12_manifest.xml" if version == "1.2" else "scorm2004_manifest.xml",
        view=view,
        identifier=_identifier(view),
        launch=LAUNCH,
        files=list(files),
    )
    return _zip({"imsmanifest.xml": manifest, **files, **scorm_schemas(version)})


def scorm_schemas(version: str) -> dict[str, bytes]:
    """The XML schemas a SCORM package carries at its root: the ones its manifest's ``schemaLocation`` names."""
    folder = resources.files("coursegen.shared.export").joinpath(
        "schemas", "scorm12" if version == "1.2" else "scorm2004"
    )
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.name.endswith(".xsd")}


def export_scorm12(view: CourseView, **options: Any) -> Export:
    data = _scorm(view, "1.2", options)
    return Export(f"{slug(view.title)}-scorm12.zip", "application/zip", data)


def export_scorm2004(view: CourseView, **options: Any) -> Export:
    data = _scorm(view, "2004", options)
    return Export(f"{slug(view.title)}-scorm2004.zip", "application/zip", data)


def export_html(view: CourseView, **options: Any) -> Export:
    scripts, connect_src = _reporting(view, options)
    page = player_page(view, scripts=scripts, connect_src=connect_src)
    return Export(f"{slug(view.title)}.html", "text/html; charset=utf-8", page.encode("utf-8"))


@dataclass(frozen=True)
class _Item:
    identifier: str
    title: str
    href: str
    href_from_test: str
    question: Any
    choices: tuple[str, ...]


def export_qti(view: CourseView, **options: Any) -> Export:
    """The quizzes as a QTI 2.1 content package: one choice item per question, and a test of them by module."""
    identifier = _identifier(view)
    files: dict[str, bytes] = {}
    sections = []
    all_items: list[_Item] = []
    for module in view.modules:
        items = []
        for n, question in enumerate(module.quiz):
            qid = module.question_id(n)
            item = _Item(
                identifier=f"{identifier}-{qid}",
                title=f"{module.title}: question {n + 1}",
                href=f"items/{qid}.xml",
                href_from_test=f"items/{qid}.xml",
                question=question,
                choices=tuple(chr(ord("A") + i) for i in range(len(question.options))),
            )
            files[item.href] = render_xml("qti_item.xml", item=item)
            items.append(item)
        if items:
            sections.append({"identifier": f"{identifier}-{module.anchor}", "title": module.title, "items": items})
            all_items += items
    if not all_items:
        raise ValueError("the course has no quiz questions to export as QTI")
    test_href = "assessment.xml"
    files[test_href] = render_xml("qti_test.xml", view=view, identifier=identifier, sections=sections)
    manifest = render_xml("qti_manifest.xml", identifier=identifier, items=all_items, test_href=test_href)
    return Export(f"{slug(view.title)}-qti21.zip", "application/zip", _zip({"imsmanifest.xml": manifest, **files}))


FORMATS: dict[str, Callable[..., Export]] = {
    "scorm12": export_scorm12,
    "scorm2004": export_scorm2004,
    "qti": export_qti,
    "html": export_html,
}
"""Every export format by the name the CLI and the API take."""


def export_course(view: CourseView, fmt: str, **options: Any) -> Export:
    """The course in one format; ``UnknownFormatError`` names the known ones."""
    try:
        exporter = FORMATS[fmt]
    except KeyError:
        raise UnknownFormatError(fmt) from None
    return exporter(view, **options)
