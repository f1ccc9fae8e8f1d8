"""Prometheus metrics of a service, served on ``COURSEGEN_METRICS_PORT`` (0: not served).

- ``coursegen_messages_total{service, subject, outcome}``: messages handled;
  outcome ``ack`` (done), ``nak`` (to be retried) or ``term`` (failed for good)
- ``coursegen_message_handling_seconds{service, subject}``: time from taking a
  message to settling it
- ``coursegen_redeliveries_total{service, subject}``: deliveries after the first
- ``coursegen_agent_runs_total{stage, model, status}``, and
  ``coursegen_agent_tokens_total{stage, model, direction}`` (``input``/``output``)
- ``coursegen_consumer_pending_messages{consumer}`` and
  ``coursegen_consumer_ack_pending_messages{consumer}``: the durable consumer's
  backlog and messages out for work, as JetStream reports them (polled)

plus FastStream's own ``faststream_*`` series and the process collectors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from faststream.nats import NatsBroker
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics, start_http_server

from coursegen.shared import subjects
from coursegen.shared.subjects import STAGES, STREAM, handoff_subject

log = logging.getLogger("coursegen.metrics")

CONSUMER_POLL_SECONDS = 5.0

_KNOWN_SUBJECTS = frozenset(
    [value for name, value in vars(subjects).items() if name.isupper() and isinstance(value, str)]
    + [handoff_subject(stage) for stage in STAGES]
)

MESSAGES = Counter(
    "coursegen_messages",
    "Messages handled, by outcome: ack (done), nak (retried later), term (failed for good).",
    ["service", "subject", "outcome"],
)
HANDLING_SECONDS = Histogram(
    "coursegen_message_handling_seconds",
    "Time from taking a message to settling it.",
    ["service", "subject"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
REDELIVERIES = Counter("coursegen_redeliveries", "Deliveries of a message after its first.", ["service", "subject"])
AGENT_RUNS = Counter("coursegen_agent_runs", "Agent runs, by how they ended.", ["stage", "model", "status"])
AGENT_TOKENS = Counter(
    "coursegen_agent_tokens", "Tokens of agent runs, input and output.", ["stage", "model", "direction"]
)
CONSUMER_PENDING = Gauge(
    "coursegen_consumer_pending_messages", "Messages not yet delivered to the durable consumer.", ["consumer"]
)
CONSUMER_ACK_PENDING = Gauge(
    "coursegen_consumer_ack_pending_messages", "Messages delivered and not yet acknowledged.", ["consumer"]
)

_served: tuple[str, int] | None = None


def subject_label(subject: str) -> str:
    """The subject, or ``other``: anyone may publish under ``coursegen.>``, and labels must stay few."""
    return subject if subject in _KNOWN_SUBJECTS else "other"


def message_settled(service: str, subject: str, outcome: str, seconds: float, attempt: int) -> None:
    label = subject_label(subject)
    MESSAGES.labels(service, label, outcome).inc()
    HANDLING_SECONDS.labels(service, label).observe(seconds)
    if attempt > 1:
        REDELIVERIES.labels(service, label).inc()


def agent_run(stage: str, model: str, status: str, *, input_tokens: int = 0, output_tokens: int = 0) -> None:
    AGENT_RUNS.labels(stage, model, status).inc()
    if input_tokens:
        AGENT_TOKENS.labels(stage, model, "input").inc(input_tokens)
    if output_tokens:
        AGENT_TOKENS.labels(stage, model, "output").inc(output_tokens)


def serve(host: str, port: int) -> None:
    """Serve ``/metrics`` from a thread, once per process (services running together share it)."""
    global _served
    if _served is not None:
        return
    # The ``*_created`` series double every counter's output and no dashboard reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=REGISTRY)
    _served = (host, port)
    log.info("metrics on http://%s:%d/metrics", host, port)


def prometheus_middleware(service: str) -> Any:
    """FastStream's own message metrics (``faststream_*``), into the same registry."""
    from faststream.nats.prometheus import NatsPrometheusMiddleware

    return NatsPrometheusMiddleware(registry=REGISTRY, app_name=f"coursegen-{service}")


async def watch_consumers(broker: NatsBroker, durables: Sequence[str], every: float = CONSUMER_POLL_SECONDS) -> None:
    """Keep the consumer gauges current: JetStream's ``num_pending`` and ``num_ack_pending`` per durable."""
    js = broker.connection.jetstream()
    while True:
        for durable in durables:
            try:
                info = await js.consumer_info(STREAM, durable)
            except Exception as exc:
                # Not created yet, or the server is away for a moment: try again next round.
                log.debug("no consumer info for %s: %s", durable, exc)
                continue
            CONSUMER_PENDING.labels(durable).set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.labels(durable).set(info.num_ack_pending or 0)
        await asyncio.sleep(every)
