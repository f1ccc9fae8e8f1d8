"""``coursegen kb add`` and ``coursegen kb search`` against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import re
import string
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coursegen.cli.main import app
from coursegen.shared.settings import Settings
from coursegen.shared.store import connect

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No stray .env or COURSEGEN_* variable of the developer's shell may decide a test.
    monkeypatch.chdir(tmp_path)
    for name in ("COURSEGEN_NATS_URL", "COURSEGEN_DATABASE_URL", "COURSEGEN_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    assert settings.database_url
    return {"COURSEGEN_DATABASE_URL": settings.database_url, "COLUMNS": "200"}


@pytest.fixture
def company(settings: Settings) -> uuid.UUID:
    async def create() -> uuid.UUID:
        assert settings.database_url
        db = await connect(settings.database_url, min_size=1, max_size=1)
        try:
            slug = f"kb-cli-{uuid.uuid4().hex[:10]}"
            company_id: uuid.UUID = await db.fetchval(
                "INSERT INTO companies (name, slug) VALUES ($1, $1) RETURNING id", slug
            )
            return company_id
        finally:
            await db.close()

    return asyncio.run(create())


def word() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=12))


def text(output: str) -> str:
    """The output without rich's box drawing and line breaks."""
    return re.sub(r"\s+", " ", re.sub(r"[│┃╭╮╰╯─━┏┓┗┛┡┩└┘┌┐├┤┼╇╈┳┻╋]", " ", output)).strip()


def test_add_ingests_a_folder_and_reports_each_file(tmp_path: Path, env: dict[str, str], company: uuid.UUID) -> None:
    topic = word()
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / ".git").mkdir()
    (docs / "guide.md").write_text(f"# Guide\n\nHow {topic} works.\n\n## Details\n\nMore on {topic}.\n")
    (docs / "sub" / "notes.txt").write_text(f"Notes on {topic} for the team.\n")
    (docs / "sub" / "page.html").write_text(f"<h1>Page</h1><script>x()</script><p>{topic} in HTML.</p>")
    (docs / ".git" / "config.md").write_text("# Hidden\n\nNever ingested.\n")
    (docs / "diagram.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (docs / "legacy.txt").write_bytes(b"caf\xe9 latin-1 text\n")

    result = runner.invoke(
        app, ["kb", "add", str(docs), str(tmp_path / "missing.md"), "--company", str(company)], env=env
    )

    assert result.exit_code == 1, result.output
    stdout, stderr = text(result.stdout), text(result.stderr)
    assert f"{docs / 'guide.md'} 2 passage(s)" in stdout
    assert f"{docs / 'sub' / 'notes.txt'} 1 passage(s)" in stdout
    assert f"{docs / 'sub' / 'page.html'} 1 passage(s)" in stdout
    assert "Hidden" not in result.output and "config.md" not in result.output
    assert f"error: {docs / 'diagram.png'}: unsupported file type '.png' (Markdown, text or HTML)" in stderr
    assert f"error: {docs / 'legacy.txt'}: not UTF-8 text" in stderr
    assert f"error: {tmp_path / 'missing.md'}: no such file or folder" in stderr
    assert f"3 file(s), 4 passage(s) in company {company}; 3 file(s) failed" in stdout

    found = runner.invoke(app, ["kb", "search", topic, "--company", str(company)], env=env)
    assert found.exit_code == 0, found.output
    assert {"Guide", "Details", "Notes", "Page"} <= set(text(found.stdout).split())
    assert "x()" not in found.stdout
    # The shared library alone does not hold the company's documents.
    shared = runner.invoke(app, ["kb", "search", topic], env=env)
    assert shared.exit_code == 0 and f"no passage matches '{topic}'" in shared.stdout


def test_add_without_a_company_goes_to_the_shared_library(tmp_path: Path, env: dict[str, str]) -> None:
    topic = word()
    doc = tmp_path / "library.md"
    doc.write_text(f"# Shared Practice\n\nEveryone can read about {topic} here.\n")

    first = runner.invoke(app, ["kb", "add", str(doc)], env=env)
    again = runner.invoke(app, ["kb", "add", str(doc)], env=env)

    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert "1 file(s), 1 passage(s) in the shared library" in text(first.stdout)
    found = runner.invoke(app, ["kb", "search", f"{topic} nothingelse", "--limit", "3"], env=env)
    assert found.exit_code == 0
    rows = [line for line in found.stdout.splitlines() if "Shared Practice" in line]
    assert len(rows) == 1, "added twice, stored once"
    assert re.search(r"Shared Practice\W+Shared Practice\W+\d+\.\d{3}\W+Everyone can read", rows[0])


def test_an_unknown_company_is_refused(tmp_path: Path, env: dict[str, str]) -> None:
    doc = tmp_path / "a.md"
    doc.write_text("# A\n\nText.\n")
    unknown = uuid.uuid4()

    for args in (["kb", "add", str(doc)], ["kb", "search", "text"]):
        result = runner.invoke(app, [*args, "--company", str(unknown)], env=env)
        assert result.exit_code == 1
        assert f"no company {unknown} in the database" in text(result.output)


def test_kb_needs_the_database_url(tmp_path: Path) -> None:
    for args in (["kb", "add", str(tmp_path)], ["kb", "search", "sql"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert "COURSEGEN_DATABASE_URL is not set" in text(result.output)
