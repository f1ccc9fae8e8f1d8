"""The events' AsyncAPI document: every subject, with documented payloads."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from coursegen.cli.main import app
from coursegen.shared.subjects import STAGES, handoff_subject


def test_asyncapi_lists_every_subject_with_documented_fields() -> None:
    result = CliRunner().invoke(app, ["asyncapi"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["asyncapi"].startswith("3.")
    channels = set(document["channels"])
    expected = {"coursegen.job.requested", "coursegen.job.accepted", "coursegen.job.rejected", "coursegen.job.resume",
                "coursegen.job.cancel", "coursegen.stage.failed", "coursegen.course.ready", "coursegen.job.completed",
                *(handoff_subject(s) for s in STAGES)}  # fmt: skip
    assert expected <= channels
    request = document["components"]["schemas"]["JobRequested"]
    assert "company_id" in request["required"]
    assert "employee" in request["properties"]["employee_ids"]["description"]
