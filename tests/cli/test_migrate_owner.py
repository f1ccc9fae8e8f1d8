"""``coursegen migrate`` runs as the schema's owner when COURSEGEN_MIGRATE_DATABASE_URL is set (the migration Job)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from coursegen.cli.main import app
from coursegen.stack.embedded import EmbeddedPostgres

runner = CliRunner()


def test_migrate_uses_the_owner_url_and_needs_no_service_url(
    postgres: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSEGEN_DATABASE_URL", raising=False)
    monkeypatch.setenv("COURSEGEN_MIGRATE_DATABASE_URL", postgres.owner_url)

    result = runner.invoke(app, ["migrate"])

    assert result.exit_code == 0, result.output
    assert "database is up to date" in result.output


def test_the_owner_url_wins_over_the_service_url(
    postgres: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    # The services' URL points nowhere: only the owner's URL can make this succeed.
    monkeypatch.setenv("COURSEGEN_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("COURSEGEN_MIGRATE_DATABASE_URL", postgres.owner_url)

    result = runner.invoke(app, ["migrate"])

    assert result.exit_code == 0, result.output
