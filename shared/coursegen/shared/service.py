"""Running a service: broker, durable pull consumers, database pool, lifecycle.

A service module exposes ``service = ServiceDefinition(...)``; ``coursegen
service NAME`` runs it. Nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from faststream import FastStream
from faststream.nats import JStream, NatsBroker, NatsMessage
from faststream.nats.opentelemetry import NatsTelemetryMiddleware

from coursegen.shared import logcontext, metrics, telemetry
from coursegen.shared.bus import Bus, NatsDelivery, ensure_streams, make_broker, subscribe_kwargs
from coursegen.shared.consume import Delivery, RetryPolicy, settle
from coursegen.shared.errors import PermanentError
from coursegen.shared.health import HealthServer, ServiceReadiness
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, wait_for_database
from coursegen.shared.subjects import STREAM, durable_name

log = logging.getLogger("coursegen.service")


@dataclass
class Runtime:
    """What a running service holds: settings, the database pool, the bus."""

    service: str
    settings: Settings
    db: Database
    bus: Bus
    broker: NatsBroker
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    """This replica's name: host, process and instance."""


class Handler(Protocol):
    async def handle(self, delivery: Delivery) -> None: ...
    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None: ...


@dataclass(frozen=True)
class Subscription:
    subject: str
    make_handler: Callable[[Runtime], Handler]
    durable_suffix: str = ""
    """Set when a service takes several subjects: each gets its own durable consumer."""
    stream: Callable[[Settings], JStream] | None = None
    """The stream the subject lives on, when it is not the main one."""


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    subscriptions: Sequence[Subscription]
    on_start: Sequence[Callable[[Runtime], Awaitable[None]]] = ()
    """Background work started with the service (e.g. the tracker's stall watcher)."""


def build_app(definition: ServiceDefinition, settings: Settings, *, middlewares: Sequence[Any] = ()) -> FastStream:
    """The FastStream app of one service."""
    if not settings.database_url:
        raise RuntimeError("COURSEGEN_DATABASE_URL is not set")
    provider = telemetry.configure_telemetry(definition.name, settings)
    # Outermost first: the message's span is current for everything inside it, metrics included.
    observers: list[Any] = [NatsTelemetryMiddleware(tracer_provider=provider)]
    if settings.metrics_port:
        observers.append(metrics.prometheus_middleware(definition.name))
    broker = make_broker(settings, definition.name, middlewares=[*observers, *middlewares])
    bus = Bus(broker, max_event_bytes=settings.max_event_bytes)
    retry = RetryPolicy(
        max_deliveries=settings.max_deliveries,
        base_delay=settings.retry_base_delay_seconds,
        max_delay=settings.retry_max_delay_seconds,
        outage_seconds=settings.outage_retry_seconds,
    )
    handlers: dict[str, Handler] = {}
    state: dict[str, Runtime] = {}
    background: list[asyncio.Task[None]] = []
    durables: list[str] = []
    consumers: list[tuple[str, str]] = []

    def on_message_for(subject: str) -> Callable[[NatsMessage], Awaitable[None]]:
        # A closure, not a default argument: FastStream would fill parameters from the message.
        async def on_message(msg: NatsMessage) -> None:
            handler = handlers[subject]
            delivery = NatsDelivery(msg)
            with logcontext.bound(stage=definition.name, **logcontext.message_ids(delivery.body)):
                started = time.perf_counter()
                outcome = await settle(delivery, handler.handle, retry=retry, on_permanent=handler.on_permanent)
                seconds = time.perf_counter() - started
                metrics.message_settled(definition.name, delivery.subject, outcome, seconds, delivery.attempt)
                log.info("%s: %s in %.0f ms (delivery %d)", delivery.subject, outcome, seconds * 1000, delivery.attempt)

        return on_message

    for sub in definition.subscriptions:
        durable = durable_name(definition.name) + (f"-{sub.durable_suffix}" if sub.durable_suffix else "")
        durables.append(durable)
        stream = sub.stream(settings) if sub.stream else None
        consumers.append((stream.name if stream else STREAM, durable))
        broker.subscriber(sub.subject, **subscribe_kwargs(settings, durable, stream, service=definition.name))(
            on_message_for(sub.subject)
        )
    readiness = ServiceReadiness(definition.name, consumers)

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        assert settings.database_url
        if settings.metrics_port:
            metrics.serve(settings.metrics_host, settings.metrics_port)
        # Up first: alive (and saying what it waits for) while NATS or PostgreSQL are still away.
        health = HealthServer(readiness, settings.metrics_host, settings.health_port)
        await health.start()
        readiness.broker = broker
        try:
            await ensure_streams(settings, definition.name)
            # A message at work holds a connection (its lock, its checks and its store) while its agent's
            # tools take another: a pool under twice the concurrency would stall the service.
            pool_size = max(settings.db_pool_max, 2 * settings.concurrency + 2)
            pool = await wait_for_database(settings.database_url, timeout=120, max_size=pool_size)
        except BaseException:
            await health.stop()
            raise
        readiness.db = Database(pool)
        runtime = Runtime(service=definition.name, settings=settings, db=readiness.db, bus=bus, broker=broker)
        for sub in definition.subscriptions:
            handlers[sub.subject] = sub.make_handler(runtime)
        state["runtime"] = runtime
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await pool.close()
            await health.stop()

    async def start_background() -> None:
        for start in definition.on_start:
            background.append(asyncio.create_task(_keep_running(start, state["runtime"])))
        if settings.metrics_port:
            background.append(asyncio.create_task(_keep_running(watch_consumers, state["runtime"])))
        readiness.started = True
        log.info("%s is up", definition.name)

    async def watch_consumers(runtime: Runtime) -> None:
        await metrics.watch_consumers(runtime.broker, durables)

    async def mark_stopping() -> None:
        readiness.stopping = True

    async def flush_spans() -> None:
        # The spans of the last messages must leave before the process does.
        await asyncio.to_thread(telemetry.flush)

    return FastStream(
        broker,
        lifespan=lifespan,
        after_startup=[start_background],
        on_shutdown=[mark_stopping],
        after_shutdown=[flush_spans],
    )


@contextlib.asynccontextmanager
async def running(definition: ServiceDefinition, settings: Settings) -> AsyncIterator[FastStream]:
    """A service running in this event loop (tests, benchmarks) without taking over signals."""
    app = build_app(definition, settings)
    async with app.lifespan_context():
        await app.start()
        try:
            yield app
        finally:
            await app.stop()


async def _keep_running(work: Callable[[Runtime], Awaitable[None]], runtime: Runtime) -> None:
    """Run background work; if it fails, log it and start it again."""
    while True:
        try:
            await work(runtime)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s background task failed; restarting it", runtime.service)
            await asyncio.sleep(2)
