"""``coursegen report JOB`` on a job run through the pipeline: spend per stage and employee, and the reduction."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from typer.testing import CliRunner

from coursegen.cli.main import app
from coursegen.shared.settings import Settings
from coursegen.shared.store import connect
from tests.employees import NO_GAPS, ONE_MODULE
from tests.helpers import make_company, pipeline, request_job, wait_for_job

runner = CliRunner()

# The handoff-chain counterfactual, computed here in SQL straight from its definition.
EXPECTED = """
WITH r AS (
    SELECT session_id, input_tokens, turns,
           coalesce(sum(transcript_tokens) OVER (PARTITION BY session_id ORDER BY created_at, run_id
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS history
      FROM agent_runs WHERE job_id = $1 AND status = 'succeeded'
)
SELECT sum(input_tokens) AS actual, sum(input_tokens + turns * history) AS chained FROM r
"""


@dataclass
class ReportedJob:
    job_id: uuid.UUID
    database_url: str
    actual: int
    chained: int
    by_stage: dict[str, dict[str, Any]]
    rerun_tokens: int


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def reported_job(settings: Settings) -> AsyncIterator[ReportedJob]:
    assert settings.database_url
    db = await connect(settings.database_url)
    try:
        company_id, employees = await make_company(db, employees=[ONE_MODULE, NO_GAPS])
        async with pipeline(settings):
            job_id = await request_job(settings, company_id, list(employees.values()))
            await wait_for_job(db, job_id)
        # What a replica that lost the race to store the same work leaves behind (one configured with a
        # model that has no price).
        session_id = await db.fetchval(
            "SELECT session_id FROM course_runs WHERE job_id = $1 AND status = 'completed'", job_id
        )
        await db.execute(
            """
            INSERT INTO agent_runs (job_id, session_id, employee_id, stage, module_index, revision, model,
                                    input_tokens, output_tokens, requests, turns, tool_calls, duration_ms, attempt,
                                    status)
            SELECT job_id, session_id, employee_id, stage, module_index, revision, 'openai-chat:local-model', 1234,
                   56, requests, turns, tool_calls, duration_ms, 2, 'discarded'
              FROM agent_runs WHERE session_id = $1 AND stage = 'enhancer'
            """,
            session_id,
        )
        expected = await db.fetchrow(EXPECTED, job_id)
        by_stage = {
            r["stage"]: dict(r)
            for r in await db.fetch(
                """
                SELECT stage, count(*) AS runs, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
                  FROM agent_runs WHERE job_id = $1 AND status = 'succeeded' GROUP BY stage
                """,
                job_id,
            )
        }
        yield ReportedJob(job_id, settings.database_url, expected["actual"], expected["chained"], by_stage, 1234 + 56)
    finally:
        await db.close()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("COURSEGEN_DATABASE_URL", "COURSEGEN_PRICES"):
        monkeypatch.delenv(name, raising=False)


def report(job: ReportedJob, job_id: uuid.UUID | None = None, **env: str) -> Any:
    return runner.invoke(
        app,
        ["report", str(job_id or job.job_id)],
        env={"COURSEGEN_DATABASE_URL": job.database_url, "COLUMNS": "200", **env},
    )


def row(output: str, first: str) -> list[str]:
    """The cells of the table row that starts with ``first``."""
    line = next(line for line in output.splitlines() if line.split()[:1] == [first])
    return re.split(r"\s{2,}", line.strip())


def test_the_reduction_is_the_definitions(reported_job: ReportedJob) -> None:
    result = report(reported_job)

    assert result.exit_code == 0, result.output
    actual, chained = reported_job.actual, reported_job.chained
    expected = f"{1 - actual / chained:.1%}"
    assert (
        f"token reduction: {expected} ({actual:,} input tokens sent to the agents; "
        f"{chained:,} with chained SDK handoffs)"
    ) in result.stdout
    # Eight agent runs of one course, each fetching its slice by reference: most of a chain's tokens are saved.
    assert 1 - actual / chained > 0.5


def test_spend_per_stage_and_per_employee(reported_job: ReportedJob) -> None:
    result = report(reported_job, COURSEGEN_PRICES='{"offline": [1000, 2000]}')

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"job {reported_job.job_id} · completed · 2 course run(s) · models: offline, openai-chat:local-model" in out
    for stage, figures in reported_job.by_stage.items():
        cells = row(out, stage)
        assert cells[1:4] == [str(figures["runs"]), f"{figures['input_tokens']:,}", f"{figures['output_tokens']:,}"]
        rerun = f"{reported_job.rerun_tokens:,} (1)" if stage == "enhancer" else "0"
        assert cells[6] == rerun, stage
    total = row(out, "total")
    total_in = sum(f["input_tokens"] for f in reported_job.by_stage.values())
    total_out = sum(f["output_tokens"] for f in reported_job.by_stage.values())
    # Priced at 1000 / 2000 USD per million; the re-run's model has no price, which the figure admits.
    cost = (total_in * 1000 + total_out * 2000) / 1_000_000
    assert total[2:4] == [f"{total_in:,}", f"{total_out:,}"] and total[5] == f"{cost:.4f} + ?"
    assert "no price for openai-chat:local-model: set COURSEGEN_PRICES" in out

    lena = row(out, "Lena")
    assert lena[0] == "Lena Park" and lena[1] == str(sum(f["runs"] for f in reported_job.by_stage.values()) - 1)
    assert re.fullmatch(r"\d+\.\d%", lena[-1])
    ada = row(out, "Ada")
    assert ada[0] == "Ada Byrne (no_gaps)" and ada[1] == "1" and ada[-1] == "0.0%"


def test_prices_from_the_environment_cover_every_model(reported_job: ReportedJob) -> None:
    result = report(reported_job, COURSEGEN_PRICES='{"local-model": [1, 1]}')

    assert result.exit_code == 0, result.output
    assert "+ ?" not in result.stdout and "no price for" not in result.stdout
    # The offline model's default price is 0: only the re-run costs anything.
    assert row(result.stdout, "total")[5] == f"{(1234 + 56) / 1_000_000:.4f}"


def test_report_of_an_unknown_job(reported_job: ReportedJob) -> None:
    result = report(reported_job, uuid.uuid4())
    assert result.exit_code == 1 and "no job" in result.output


def test_report_needs_the_database_url() -> None:
    result = runner.invoke(app, ["report", str(uuid.uuid4())])
    assert result.exit_code == 2 and "COURSEGEN_DATABASE_URL is not set" in result.output
