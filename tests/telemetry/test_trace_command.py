"""``coursegen trace JOB``: the finished job's handoffs as a waterfall, with a Jaeger link per course."""

from __future__ import annotations

import re
import uuid

from typer.testing import CliRunner

from coursegen.cli.main import app
from coursegen.shared.subjects import STAGES
from tests.telemetry.conftest import TracedRun

runner = CliRunner()


def test_trace_prints_a_waterfall_per_course(traced_run: TracedRun) -> None:
    jaeger = "http://127.0.0.1:16686"
    result = runner.invoke(
        app,
        ["trace", str(traced_run.job_id)],
        env={"COURSEGEN_DATABASE_URL": traced_run.database_url, "COURSEGEN_JAEGER_UI_URL": jaeger},
    )
    assert result.exit_code == 0, result.output
    output = result.output
    assert f"job {traced_run.job_id} · completed · {len(traced_run.sessions)} course run(s)" in output

    blocks = output.split("\ncourse ")[1:]
    assert len(blocks) == len(traced_run.sessions)
    for block in blocks:
        session = block.split(" ", 1)[0]
        assert session in traced_run.sessions
        trace_ids = re.findall(r"trace ([0-9a-f]{32})  " + re.escape(jaeger) + r"/trace/([0-9a-f]{32})", block)
        assert len(trace_ids) == 1 and trace_ids[0][0] == trace_ids[0][1]
        rows = [line.split() for line in block.splitlines() if line.startswith("  ") and "|" in line]
        assert {row[0] for row in rows} == set(STAGES)
        planner = next(row for row in rows if row[0] == "planner")
        # stage, module, start, duration, tokens in/out, bar
        assert planner[1] == "-" and planner[2] == "+0.00" and re.fullmatch(r"[\d,]+/[\d,]+", planner[6])
        modules = {row[1] for row in rows if row[0] == "researcher"}
        assert modules and all(m.isdigit() for m in modules)
        assert all(re.fullmatch(r"[\d.]+", row[4]) for row in rows if row[0] != "finalizer")


def test_trace_of_an_unknown_job(traced_run: TracedRun) -> None:
    result = runner.invoke(app, ["trace", str(uuid.uuid4())], env={"COURSEGEN_DATABASE_URL": traced_run.database_url})
    assert result.exit_code == 1
    assert "no job" in result.output
