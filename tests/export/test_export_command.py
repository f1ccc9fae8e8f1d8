"""``coursegen export``: a course assembled by the real pipeline, written out in every format, and the errors."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coursegen.cli.main import app
from coursegen.shared.settings import Settings
from tests.export.conftest import AssembledCourse

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def _export(settings: Settings, *args: str) -> tuple[int, str]:
    assert settings.database_url
    result = runner.invoke(
        app, ["export", *args], env={"COURSEGEN_DATABASE_URL": settings.database_url, "COLUMNS": "300"}
    )
    return result.exit_code, result.output


def test_every_format_of_an_assembled_course(
    settings: Settings, assembled_course: AssembledCourse, tmp_path: Path
) -> None:
    course = str(assembled_course.course_id)
    code, output = _export(settings, course, "--format", "scorm12", "--company", str(assembled_course.company_id))
    assert code == 0, output
    (package,) = tmp_path.glob("*-scorm12.zip")
    assert str(package) in output
    with zipfile.ZipFile(package) as archive:
        assert {"imsmanifest.xml", "index.html"} <= set(archive.namelist())
        assert b"<adlcp:masteryscore>80</adlcp:masteryscore>" in archive.read("imsmanifest.xml")

    code, output = _export(
        settings, course, "-f", "scorm2004", "--out", str(tmp_path / "out" / "course.zip"), "--pass-mark", "60"
    )
    assert code == 0, output
    with zipfile.ZipFile(tmp_path / "out" / "course.zip") as archive:
        assert b"2004 4th Edition" in archive.read("imsmanifest.xml")
        assert b"<imsss:minNormalizedMeasure>0.60</imsss:minNormalizedMeasure>" in archive.read("imsmanifest.xml")

    code, output = _export(settings, course, "-f", "qti", "-o", str(tmp_path))
    assert code == 0, output
    (bank,) = tmp_path.glob("*-qti21.zip")
    with zipfile.ZipFile(io.BytesIO(bank.read_bytes())) as archive:
        assert any(name.startswith("items/") for name in archive.namelist())

    code, output = _export(settings, course, "-f", "html")
    assert code == 0, output
    (page,) = tmp_path.glob("*.html")
    html = page.read_text(encoding="utf-8")
    assert "<svg" in html and 'class="cg-quiz"' in html


def test_clear_errors(settings: Settings, assembled_course: AssembledCourse) -> None:
    course = str(assembled_course.course_id)
    code, output = _export(settings, course, "--format", "pdf")
    assert code == 2
    assert "unknown export format 'pdf': use one of scorm12, scorm2004, qti, html" in output

    missing = uuid.uuid4()
    code, output = _export(settings, str(missing), "--format", "html")
    assert code == 2
    assert f"no assembled course {missing}" in output

    # Another company's course does not exist for it, in the same words as a missing one.
    other = assembled_course.other_company_id
    code, output = _export(settings, course, "--format", "html", "--company", str(other))
    assert code == 2
    assert f"no assembled course {course} of company {other}" in output

    code, output = _export(settings, "not-a-uuid", "--format", "html")
    assert code == 2 and "is not a UUID" in output
    assert not list(Path.cwd().iterdir())


def test_export_needs_the_database_url() -> None:
    result = runner.invoke(app, ["export", str(uuid.uuid4()), "--format", "html"], env={"COURSEGEN_DATABASE_URL": ""})
    assert result.exit_code == 2
    assert "COURSEGEN_DATABASE_URL is not set" in result.output
