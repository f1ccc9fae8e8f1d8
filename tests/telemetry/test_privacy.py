"""Employee data stays out of spans and logs by default: a marker planted in names and profiles shows up nowhere."""

from __future__ import annotations

import json

from coursegen.shared.store import connect
from tests.telemetry.conftest import MARKER, TracedRun


async def test_the_marker_went_through_the_pipeline(traced_run: TracedRun) -> None:
    """Not a vacuous check: the agents did read the marked names (the stored plans carry them)."""
    db = await connect(traced_run.database_url, min_size=1, max_size=1)
    try:
        names = await db.fetch("SELECT employee_name FROM cm_course_plans WHERE job_id = $1", traced_run.job_id)
    finally:
        await db.close()
    assert len(names) == len(traced_run.sessions)
    assert all(MARKER in r["employee_name"] for r in names)


def test_no_exported_span_carries_employee_data(traced_run: TracedRun) -> None:
    assert traced_run.spans
    for span in traced_run.spans:
        leaks = [text for text in span.texts() if MARKER in text]
        assert not leaks, f"{span.name} ({span.service}) carries {leaks[0][:200]!r}"
    # Whatever the decoding above might miss: the raw payloads as the exporter sent them.
    assert not any(MARKER.encode() in body for body in traced_run.receiver.bodies)


def test_no_log_line_carries_employee_data(traced_run: TracedRun) -> None:
    for label, output in traced_run.logs.items():
        for line in output.splitlines():
            assert MARKER not in line, f"{label} logged {line[:300]}"


def test_log_lines_about_a_message_say_which_job_run_stage_and_trace(traced_run: TracedRun) -> None:
    about_messages = []
    for label, output in traced_run.logs.items():
        for line in output.splitlines():
            entry = json.loads(line)  # not a terminal: JSON lines
            if entry["logger"] == "coursegen.service" and entry["message"].startswith("coursegen."):
                about_messages.append((label, entry))
    ours = [(label, e) for label, e in about_messages if e.get("job_id") == str(traced_run.job_id)]
    assert {label.rsplit("-", 1)[0] for label, _ in ours} >= {"coordinator", "planner", "finalizer", "tracker"}
    for label, entry in about_messages:
        assert entry.get("trace_id") and entry.get("stage") == label.rsplit("-", 1)[0], entry
    for _, entry in ours:
        if entry.get("session_id"):
            assert entry.get("employee_id") == str(traced_run.sessions[entry["session_id"]]), entry
