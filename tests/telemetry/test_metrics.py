"""A service's Prometheus endpoint shows the job's work: counters that moved between before and after."""

from __future__ import annotations

from tests.telemetry.conftest import TracedRun


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        value
        for key, value in samples.items()
        if key.split("{", 1)[0] == name and all(label in key for label in wanted)
    )


def test_the_planners_counters_move_with_a_job(traced_run: TracedRun) -> None:
    before, after = traced_run.metrics_before, traced_run.metrics_after
    courses = len(traced_run.sessions)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    # At least: work left on the shared test bus by earlier tests may be taken up too.
    handoff = {"service": "planner", "subject": "coursegen.handoff.planner"}
    assert moved("coursegen_messages_total", outcome="ack", **handoff) >= courses
    assert moved("coursegen_message_handling_seconds_count", **handoff) >= courses
    assert moved("coursegen_agent_runs_total", stage="planner", status="succeeded") >= courses
    assert moved("coursegen_agent_tokens_total", stage="planner", direction="input") > 0
    assert moved("coursegen_agent_tokens_total", stage="planner", direction="output") > 0
    assert moved("faststream_received_messages_total") >= courses
    # JetStream's view of the planner's durable consumer.
    assert 'coursegen_consumer_pending_messages{consumer="coursegen-planner"}' in after
    assert 'coursegen_consumer_ack_pending_messages{consumer="coursegen-planner"}' in after
