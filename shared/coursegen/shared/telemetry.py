"""Telemetry, set up once per process: OpenTelemetry traces (with the Agents SDK's spans), Sentry.

Configured by OpenTelemetry's standard variables:

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``):
  where spans go, OTLP over HTTP/protobuf (Jaeger: ``http://jaeger:4318``).
  Unset: nothing is exported and nothing is printed; spans are still made,
  so trace context crosses the bus and ``cm_agent_handoffs.trace_id`` is kept.
- ``OTEL_TRACES_EXPORTER``: ``otlp`` (implied by an endpoint), ``console``, ``none``.
- ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``: default ``coursegen-<service>``.
- ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``: sampling, decided
  once per course (each course run is its own trace), ``OTEL_BSP_*``: batching,
  ``OTEL_SDK_DISABLED=true``: no tracing at all.
- ``SENTRY_DSN``: errors go to Sentry (nothing is initialised without it).

One course run is one trace: the handoff that starts a run (to the planner)
opens a new trace, linked to the job request's, and every later handoff
carries it on in its ``traceparent`` header (FastStream's NATS telemetry
middleware), across processes.

Privacy: prompts, model output, tool arguments and results, SQL parameters
and exception messages stay out of spans unless ``COURSEGEN_TRACE_SENSITIVE_DATA``
is on.

The Agents SDK exports traces to OpenAI as soon as any ``OPENAI_API_KEY`` is
set (and complains on stderr when none is): coursegen replaces its processors
unless ``COURSEGEN_OPENAI_TRACING`` asks for the export. Its spans go to
OpenTelemetry either way (unless ``OPENAI_AGENTS_DISABLE_TRACING`` turns the
SDK's tracing off altogether).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from agents import add_trace_processor, set_trace_processors
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult, _get_from_env_or_default
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from coursegen.shared._agents_tracing import OpenTelemetryProcessor
from coursegen.shared.events import Event, Handoff
from coursegen.shared.settings import Settings

log = logging.getLogger("coursegen.telemetry")

TRACER_NAME = "coursegen"

_provider: TracerProvider | None = None
_agents_configured = False


def configure_telemetry(service: str, settings: Settings) -> TracerProvider:
    """Set up tracing (and Sentry, when ``SENTRY_DSN`` is set) for this process; later calls return the same."""
    global _provider
    if _provider is not None:
        return _provider
    # _get_from_env_or_default is the SDK's own reading of OTEL_TRACES_SAMPLER(_ARG).
    provider = TracerProvider(resource=_resource(service), sampler=NoOrphanQueries(_get_from_env_or_default()))
    for processor in _span_processors():
        provider.add_span_processor(processor)
    otel_trace.set_tracer_provider(provider)
    _instrument_asyncpg(provider, capture_parameters=settings.trace_sensitive_data)
    configure_agents_tracing(settings, provider)
    _configure_sentry(service, settings)
    _provider = provider
    return provider


def configure_agents_tracing(settings: Settings, provider: TracerProvider | None = None) -> None:
    """The Agents SDK's spans into OpenTelemetry, and to OpenAI only when ``COURSEGEN_OPENAI_TRACING=1``."""
    global _agents_configured
    if _agents_configured:
        return
    if not settings.openai_tracing:
        set_trace_processors([])
    tracer = otel_trace.get_tracer(TRACER_NAME, _version(), tracer_provider=provider)
    add_trace_processor(OpenTelemetryProcessor(tracer, sensitive=settings.trace_sensitive_data))
    _agents_configured = True


def tracer() -> otel_trace.Tracer:
    return otel_trace.get_tracer(TRACER_NAME, _version(), tracer_provider=_provider)


def flush(timeout_millis: int = 5_000) -> None:
    """Export what is buffered now (a service stopping, a test about to look)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis)


def shutdown() -> None:
    """Flush and stop exporting; the last thing a service process does."""
    if _provider is not None:
        _provider.shutdown()
    with contextlib.suppress(ImportError):
        import sentry_sdk

        if sentry_sdk.is_initialized():
            sentry_sdk.flush(timeout=5)


@contextlib.contextmanager
def course_trace(event: Event) -> Iterator[None]:
    """Publishing the handoff that starts (or re-drives) a course run opens that run's own trace.

    Without it, every course of a job would share the trace of the job request.
    The new trace links back to the span that was current (the request's).
    """
    if not (isinstance(event, Handoff) and event.stage == "planner"):
        yield
        return
    caller = otel_trace.get_current_span().get_span_context()
    with tracer().start_as_current_span(
        "course",
        context=Context(),
        kind=SpanKind.PRODUCER,
        links=[Link(caller)] if caller.is_valid else None,
        attributes=handoff_attributes(event),
    ):
        yield


@contextlib.contextmanager
def stage_span(stage: str, *, attempt: int, sensitive: bool = False) -> Iterator[otel_trace.Span]:
    """The span of one delivery's work in a stage; the handoffs it publishes are its children."""
    with tracer().start_as_current_span(
        f"stage {stage}",
        attributes={"coursegen.stage": stage, "coursegen.attempt": attempt},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except Exception as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            kind = getattr(exc, "kind", None)
            if isinstance(kind, str):
                span.set_attribute("coursegen.error.kind", kind)
            # An exception's message may quote stored data (a validation error shows the input).
            span.set_status(Status(StatusCode.ERROR, str(exc) if sensitive else type(exc).__qualname__))
            if sensitive:
                span.record_exception(exc)
            raise


def handoff_attributes(handoff: Handoff) -> dict[str, Any]:
    """The ids of a unit of work, as span attributes (ids only, never names or content)."""
    attributes: dict[str, Any] = {
        "coursegen.job_id": str(handoff.job_id),
        "coursegen.session_id": handoff.session_id,
        "coursegen.employee_id": str(handoff.employee_id),
        "coursegen.stage": handoff.stage,
        "coursegen.from_stage": handoff.from_stage,
        "coursegen.revision": handoff.revision,
        "coursegen.epoch": handoff.epoch,
    }
    if handoff.module_index is not None:
        attributes["coursegen.module_index"] = handoff.module_index
    return attributes


def describe_work(handoff: Handoff, **extra: str | int) -> None:
    """Put the handoff's ids (and ``extra``) on the current span."""
    span = otel_trace.get_current_span()
    span.set_attributes({**handoff_attributes(handoff), **{f"coursegen.{k}": v for k, v in extra.items()}})


class NoOrphanQueries(Sampler):
    """Database calls outside any message (the stall sweep, pool checks) start no trace of their own.

    Without this, every background query would be a one-span trace in Jaeger.
    Everything else is left to the configured sampler.
    """

    def __init__(self, delegate: Sampler) -> None:
        self.delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = otel_trace.get_current_span(parent_context).get_span_context()
        if not parent.is_valid and attributes and ("db.system" in attributes or "db.system.name" in attributes):
            return SamplingResult(Decision.DROP)
        return self.delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"NoOrphanQueries{{{self.delegate.get_description()}}}"


def _resource(service: str) -> Resource:
    detected = Resource.create()
    defaults: dict[str, str] = {
        "service.namespace": "coursegen",
        "service.version": _version(),
        "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
    }
    ours = {k: v for k, v in defaults.items() if k not in detected.attributes}
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        ours[SERVICE_NAME] = f"coursegen-{service}"
    return detected.merge(Resource(ours))


def _span_processors() -> list[SpanProcessor]:
    """What the ``OTEL_*`` variables ask for: an OTLP exporter only when an endpoint (or ``otlp``) is named."""
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    named = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    exporters = named or (["otlp"] if endpoint else [])
    processors: list[SpanProcessor] = []
    for name in exporters:
        if name == "otlp":
            protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
            )
            if protocol != "http/protobuf":
                log.warning("OTLP protocol %r is not supported; exporting over http/protobuf (port 4318)", protocol)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
        elif name != "none":
            log.warning("unknown OTEL_TRACES_EXPORTER %r ignored (otlp, console or none)", name)
    return processors


def _instrument_asyncpg(provider: TracerProvider, *, capture_parameters: bool) -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentor = AsyncPGInstrumentor(capture_parameters=capture_parameters)  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)


def _configure_sentry(service: str, settings: Settings) -> None:
    if not os.environ.get("SENTRY_DSN"):
        return
    import sentry_sdk

    # DSN, environment and release come from SENTRY_DSN, SENTRY_ENVIRONMENT and SENTRY_RELEASE.
    sentry_sdk.init(
        send_default_pii=settings.trace_sensitive_data,
        # Local variables in stack frames would carry profiles and drafts.
        include_local_variables=settings.trace_sensitive_data,
        max_request_body_size="never",
    )
    sentry_sdk.set_tag("service", service)


@functools.cache
def _version() -> str:
    try:
        return version("coursegen-shared")
    except PackageNotFoundError:
        return "0"
