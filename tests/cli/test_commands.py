"""The command line's own checks: what a user sees when a command is used wrongly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from coursegen.cli._common import parse_replicas
from coursegen.cli.main import app
from coursegen.shared.subjects import SERVICES

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No stray .env or COURSEGEN_* variable of the developer's shell may decide a test.
    monkeypatch.chdir(tmp_path)
    for name in ("COURSEGEN_NATS_URL", "COURSEGEN_DATABASE_URL", "COURSEGEN_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def text(output: str) -> str:
    """The message without rich's box drawing and line breaks."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", output)).strip()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("researcher=x", "the number of replicas must be a whole number of 1 or more"),
        ("researcher=0", "the number of replicas must be a whole number of 1 or more"),
        ("researcher=-2", "the number of replicas must be a whole number of 1 or more"),
        ("writer=3", "unknown service 'writer'; services are: " + ", ".join(SERVICES)),
        ("researcher", "'researcher' is not NAME=N"),
        ("=3", "'=3' is not NAME=N"),
    ],
)
def test_up_rejects_bad_replicas(value: str, message: str) -> None:
    result = runner.invoke(app, ["up", "--replicas", value])

    assert result.exit_code == 2
    assert "Invalid value for --replicas" in text(result.output)
    assert message in text(result.output)


def test_replicas_accept_repeats_and_commas() -> None:
    assert parse_replicas(["researcher=3,content=2", "quality=2", " enhancer = 4 "]) == {
        "researcher": 3,
        "content": 2,
        "quality": 2,
        "enhancer": 4,
    }
    assert parse_replicas([]) == {}
    with pytest.raises(typer.BadParameter):
        parse_replicas(["researcher=1.5"])


def test_service_with_an_unknown_name_lists_the_services() -> None:
    result = runner.invoke(app, ["service", "writer"], env={"COURSEGEN_NATS_URL": "nats://127.0.0.1:1"})

    assert result.exit_code == 2
    output = text(result.output)
    assert "unknown service 'writer'" in output
    assert "services are: " + ", ".join(SERVICES) in output


def test_service_without_a_database_url_names_the_variable() -> None:
    result = runner.invoke(app, ["service", "planner"], env={"COURSEGEN_NATS_URL": "nats://127.0.0.1:1"})

    assert result.exit_code == 2
    assert "COURSEGEN_DATABASE_URL is not set" in text(result.output)
    assert "COURSEGEN_NATS_URL" not in text(result.output)


def test_service_without_either_url_names_both() -> None:
    result = runner.invoke(app, ["service", "tracker"])

    assert result.exit_code == 2
    assert "COURSEGEN_NATS_URL is not set" in text(result.output)
    assert "COURSEGEN_DATABASE_URL is not set" in text(result.output)


def test_status_with_a_malformed_job_id() -> None:
    result = runner.invoke(
        app, ["status", "not-a-job"], env={"COURSEGEN_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}
    )

    assert result.exit_code == 2
    assert "'not-a-job' is not a UUID" in text(result.output)


def test_generate_without_nats_names_the_variable() -> None:
    result = runner.invoke(app, ["generate", "--company", "123e4567-e89b-12d3-a456-426614174000", "--no-follow"])

    assert result.exit_code == 2
    assert "COURSEGEN_NATS_URL is not set" in text(result.output)
    assert "COURSEGEN_DATABASE_URL" not in text(result.output)  # not needed without following


def test_generate_with_a_malformed_company_id() -> None:
    result = runner.invoke(app, ["generate", "--company", "acme"])

    assert result.exit_code == 2
    assert "'acme' is not a UUID" in text(result.output)


def test_migrate_without_a_database_url() -> None:
    result = runner.invoke(app, ["migrate"])

    assert result.exit_code == 2
    assert "COURSEGEN_DATABASE_URL is not set" in text(result.output)


@pytest.mark.parametrize("command", [["demo"], ["up"], ["service", "content"]])
def test_a_model_that_cannot_run_stops_the_command_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("COURSEGEN_MODEL", "openai:gpt-4.1-mini")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    if command[0] == "service":
        monkeypatch.setenv("COURSEGEN_NATS_URL", "nats://127.0.0.1:1")
        monkeypatch.setenv("COURSEGEN_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    result = runner.invoke(app, command)

    assert result.exit_code == 2
    assert "COURSEGEN_MODEL: openai:gpt-4.1-mini needs OPENAI_API_KEY" in text(result.output)
    assert not (Path.cwd() / ".coursegen").exists(), "nothing was started"
