"""The Agents SDK's spans as OpenTelemetry spans: inside the caller's span, content only when asked for."""

from __future__ import annotations

from typing import Any

import pytest
from agents.tracing.provider import DefaultTraceProvider
from agents.tracing.span_data import AgentSpanData, FunctionSpanData, GenerationSpanData, ResponseSpanData
from openai.types.responses import Response, ResponseOutputMessage, ResponseOutputText, ResponseUsage
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from coursegen.shared import telemetry
from coursegen.shared._agents_tracing import OpenTelemetryProcessor

SECRET = "Zqx-Prompt-4410"


def run_agent_spans(*, sensitive: bool) -> tuple[list[ReadableSpan], str]:
    """One agent turn (a model call, a tool call, a Responses call) under a stage span; the exported spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    sdk = DefaultTraceProvider()  # a private one: the process-wide SDK tracing stays as it is
    sdk.set_disabled(False)
    sdk.register_processor(OpenTelemetryProcessor(tracer, sensitive=sensitive))

    with tracer.start_as_current_span("stage planner") as stage:
        run = sdk.create_trace("coursegen.planner")
        run.start()
        agent = sdk.create_span(AgentSpanData(name="planner", tools=["get_employee_profile"]), parent=run)
        agent.start()
        model = sdk.create_span(GenerationSpanData(model="offline"), parent=agent)
        model.start()
        model.span_data.input = [{"role": "user", "content": SECRET}]
        model.span_data.output = [{"role": "assistant", "content": SECRET}]
        model.span_data.usage = {"input_tokens": 120, "output_tokens": 30}
        model.finish()
        tool = sdk.create_span(FunctionSpanData(name="get_employee_profile", input=None, output=None), parent=agent)
        tool.start()
        tool.span_data.input = f'{{"name": "{SECRET}"}}'
        tool.span_data.output = SECRET
        tool.finish()
        responses = sdk.create_span(ResponseSpanData(), parent=agent)
        responses.start()
        responses.span_data.response = _response(SECRET)
        responses.finish()
        agent.finish()
        run.finish()
    return list(exporter.get_finished_spans()), format(stage.get_span_context().span_id, "016x")


def _response(text: str) -> Response:
    message = ResponseOutputMessage.model_construct(
        id="msg_1",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText.model_construct(type="output_text", text=text, annotations=[])],
    )
    usage = ResponseUsage.model_construct(input_tokens=50, output_tokens=7, total_tokens=57)
    return Response.model_construct(id="resp_1", model="gpt-test", output=[message], usage=usage)


def texts(span: ReadableSpan) -> list[str]:
    found: list[str] = [span.name]
    for key, value in (span.attributes or {}).items():
        found += [key, str(value)]
    return found


def by_name(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in spans}


def test_agent_spans_nest_inside_the_callers_span_without_content() -> None:
    spans, stage_id = run_agent_spans(sensitive=False)
    named = by_name(spans)
    agent, model, tool, responses = (
        named["invoke_agent planner"],
        named["chat offline"],
        named["execute_tool get_employee_profile"],
        named["chat"],
    )
    assert agent.parent is not None and format(agent.parent.span_id, "016x") == stage_id
    for child in (model, tool, responses):
        assert child.parent is not None and child.parent.span_id == agent.context.span_id
    attributes: dict[str, Any] = dict(model.attributes or {})
    assert attributes["gen_ai.usage.input_tokens"] == 120 and attributes["gen_ai.usage.output_tokens"] == 30
    assert dict(tool.attributes or {})["gen_ai.tool.name"] == "get_employee_profile"
    assert dict(responses.attributes or {})["gen_ai.usage.output_tokens"] == 7
    assert not [t for span in spans for t in texts(span) if SECRET in t]


def test_content_is_recorded_when_sensitive_data_is_on() -> None:
    spans, _ = run_agent_spans(sensitive=True)
    named = by_name(spans)
    for name, key in [
        ("chat offline", "gen_ai.input.messages"),
        ("chat offline", "gen_ai.output.messages"),
        ("execute_tool get_employee_profile", "gen_ai.tool.call.arguments"),
        ("execute_tool get_employee_profile", "gen_ai.tool.call.result"),
        ("chat", "gen_ai.output.messages"),
    ]:
        assert SECRET in str(dict(named[name].attributes or {})[key]), (name, key)


def test_database_calls_outside_any_message_start_no_trace() -> None:
    sampler = telemetry.NoOrphanQueries(ALWAYS_ON)
    query = {"db.system": "postgresql", "db.statement": "SELECT 1"}
    assert sampler.should_sample(None, 1, "SELECT", attributes=query).decision is Decision.DROP
    parent = SpanContext(trace_id=7, span_id=9, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    inside = set_span_in_context(NonRecordingSpan(parent))
    assert sampler.should_sample(inside, 7, "SELECT", attributes=query).decision is Decision.RECORD_AND_SAMPLE
    assert sampler.should_sample(None, 1, "course").decision is Decision.RECORD_AND_SAMPLE


@pytest.mark.parametrize(
    ("env", "exported"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["BatchSpanProcessor"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, ["BatchSpanProcessor"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, []),
    ],
)
def test_spans_are_exported_only_where_configured(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], exported: list[str]
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    processors = telemetry._span_processors()
    try:
        assert [type(p).__name__ for p in processors] == exported
    finally:
        for processor in processors:
            processor.shutdown()
