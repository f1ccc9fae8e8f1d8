"""The Agents SDK's spans as OpenTelemetry spans, inside the span that called ``Runner.run``.

Written here rather than taken from an instrumentation package: the ones on
PyPI copy the model's whole response (``ResponseSpanData.response``, which the
SDK fills whether or not ``trace_include_sensitive_data`` is set) into span
attributes, so model output would reach the trace backend by default. This
processor records names, models, token usage and tool names; prompts, model
output and tool arguments/results only when ``sensitive`` is on.

Attribute names follow OpenTelemetry's GenAI conventions (``gen_ai.*``).
"""

from __future__ import annotations

import json
from contextvars import Token
from typing import Any

from agents.tracing import Span, Trace, TracingProcessor
from agents.tracing.span_data import (
    AgentSpanData,
    CustomSpanData,
    FunctionSpanData,
    GenerationSpanData,
    GuardrailSpanData,
    HandoffSpanData,
    ResponseSpanData,
    TaskSpanData,
    TurnSpanData,
)
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.util.types import AttributeValue

_MAX_TEXT = 8_000
"""Longest prompt or output kept in one attribute (when sensitive data is on)."""


class OpenTelemetryProcessor(TracingProcessor):
    """Mirrors every Agents SDK span as an OpenTelemetry span."""

    def __init__(self, tracer: otel_trace.Tracer, *, sensitive: bool) -> None:
        self._tracer = tracer
        self._sensitive = sensitive
        self._roots: dict[str, otel_context.Context] = {}
        self._spans: dict[str, otel_trace.Span] = {}
        self._tokens: dict[str, Token[otel_context.Context]] = {}

    def on_trace_start(self, trace: Trace) -> None:
        # Runner.run starts its trace in the caller's task: the stage's span is current here.
        self._roots[trace.trace_id] = otel_context.get_current()

    def on_trace_end(self, trace: Trace) -> None:
        self._roots.pop(trace.trace_id, None)

    def on_span_start(self, span: Span[Any]) -> None:
        parent = self._spans.get(span.parent_id) if span.parent_id else None
        if parent is not None:
            ctx = otel_trace.set_span_in_context(parent)
        else:
            ctx = self._roots.get(span.trace_id) or otel_context.get_current()
        name, kind, attributes = _describe_start(span.span_data)
        otel_span = self._tracer.start_span(name, context=ctx, kind=kind, attributes=attributes)
        self._spans[span.span_id] = otel_span
        if isinstance(span.span_data, FunctionSpanData):
            # A tool's database calls nest under it. The SDK starts and ends a tool's span in the same
            # task, so the context attached here is the one detached in on_span_end.
            self._tokens[span.span_id] = otel_context.attach(otel_trace.set_span_in_context(otel_span))

    def on_span_end(self, span: Span[Any]) -> None:
        otel_span = self._spans.pop(span.span_id, None)
        if otel_span is None:
            return
        token = self._tokens.pop(span.span_id, None)
        if token is not None and otel_trace.get_current_span() is otel_span:
            otel_context.detach(token)
        try:
            otel_span.set_attributes(_describe_end(span.span_data, self._sensitive))
            if span.error:
                # The message only: the error's data may quote the tool's input or output.
                otel_span.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR, span.error.get("message")))
        finally:
            otel_span.end()

    def shutdown(self) -> None:
        for otel_span in self._spans.values():
            otel_span.end()
        self._spans.clear()
        self._roots.clear()
        self._tokens.clear()

    def force_flush(self) -> None:
        """Nothing is buffered here: the OpenTelemetry span processor flushes."""


def _describe_start(data: Any) -> tuple[str, otel_trace.SpanKind, dict[str, AttributeValue]]:
    internal = otel_trace.SpanKind.INTERNAL
    if isinstance(data, AgentSpanData):
        attrs: dict[str, AttributeValue] = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": data.name}
        if data.tools:
            attrs["coursegen.agent.tools"] = list(data.tools)
        if data.output_type:
            attrs["coursegen.agent.output_type"] = data.output_type
        return f"invoke_agent {data.name}", internal, attrs
    if isinstance(data, GenerationSpanData):
        model = data.model or "model"
        return (
            f"chat {model}",
            otel_trace.SpanKind.CLIENT,
            {"gen_ai.operation.name": "chat", "gen_ai.request.model": model},
        )
    if isinstance(data, ResponseSpanData):
        return "chat", otel_trace.SpanKind.CLIENT, {"gen_ai.operation.name": "chat"}
    if isinstance(data, FunctionSpanData):
        return (
            f"execute_tool {data.name}",
            internal,
            {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": data.name},
        )
    if isinstance(data, HandoffSpanData):
        return f"handoff {data.from_agent} -> {data.to_agent}", internal, {}
    if isinstance(data, GuardrailSpanData):
        return f"guardrail {data.name}", internal, {}
    if isinstance(data, TaskSpanData):
        return f"agent_run {data.name}", internal, {}
    if isinstance(data, TurnSpanData):
        return f"turn {data.turn}", internal, {"gen_ai.agent.name": data.agent_name, "coursegen.turn": data.turn}
    if isinstance(data, CustomSpanData):
        return data.name, internal, {}
    return str(getattr(data, "type", "span")), internal, {}


def _describe_end(data: Any, sensitive: bool) -> dict[str, AttributeValue]:
    attrs: dict[str, AttributeValue] = {}
    if isinstance(data, GenerationSpanData):
        attrs.update(_usage(data.usage))
        if sensitive:
            attrs.update(_text("gen_ai.input.messages", data.input))
            attrs.update(_text("gen_ai.output.messages", data.output))
    elif isinstance(data, ResponseSpanData):
        response = data.response
        if response is not None:
            attrs["gen_ai.response.id"] = response.id
            attrs["gen_ai.response.model"] = str(response.model)
            if response.usage is not None:
                attrs["gen_ai.usage.input_tokens"] = response.usage.input_tokens
                attrs["gen_ai.usage.output_tokens"] = response.usage.output_tokens
        elif data.usage:
            attrs.update(_usage(data.usage))
        if sensitive:
            attrs.update(_text("gen_ai.input.messages", data.input))
            if response is not None:
                attrs.update(_text("gen_ai.output.messages", [item.model_dump() for item in response.output]))
    elif isinstance(data, FunctionSpanData):
        if sensitive:
            attrs.update(_text("gen_ai.tool.call.arguments", data.input))
            attrs.update(_text("gen_ai.tool.call.result", data.output))
    elif isinstance(data, GuardrailSpanData):
        attrs["coursegen.guardrail.triggered"] = data.triggered
    elif isinstance(data, TaskSpanData | TurnSpanData):
        attrs.update(_usage(data.usage))
    elif isinstance(data, CustomSpanData) and sensitive:
        attrs.update(_text("coursegen.data", data.data))
    return attrs


def _usage(usage: dict[str, Any] | None) -> dict[str, AttributeValue]:
    if not usage:
        return {}
    attrs: dict[str, AttributeValue] = {}
    for key in ("input_tokens", "output_tokens"):
        value = usage.get(key)
        if isinstance(value, int):
            attrs[f"gen_ai.usage.{key}"] = value
    return attrs


def _text(key: str, value: Any) -> dict[str, AttributeValue]:
    if value is None:
        return {}
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return {key: text[:_MAX_TEXT]}
