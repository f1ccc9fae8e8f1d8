"""The bus: NATS JetStream through FastStream.

One stream over ``coursegen.>`` (file storage, limits retention with a max
age, so a message published before its consumer exists is kept). Each
service's replicas share one durable pull consumer per subject they take,
acked by hand: FastStream's default would terminate a message whose handler
raised, and it would never be retried.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import nats.js.errors
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub, RetentionPolicy, StorageType
from faststream.nats.security import NatsCredentials, NatsNKey, NatsSecurity, NatsUserPassword
from nats.js.api import AckPolicy as JsAckPolicy
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from coursegen.shared.errors import EventTooLarge, transient_nats_error
from coursegen.shared.events import Event, Handoff
from coursegen.shared.nats_auth import ADMIN, connect_options, identity, inbox_prefix
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import ADVISORY_STREAM, ALL, MAX_DELIVERIES_ADVISORY, STREAM
from coursegen.shared.telemetry import course_trace

log = logging.getLogger("coursegen.bus")

DUPLICATE_WINDOW_SECONDS = 120.0


def _publish_retryable(exc: BaseException) -> bool:
    """Publishing retries through a leader election in a cluster (5-7 s) or a restart."""
    return transient_nats_error(exc) or isinstance(exc, TimeoutError | ConnectionError)


def make_stream(settings: Settings, *, declare: bool = True) -> JStream:
    """A fresh stream declaration: FastStream marks it declared after the first broker starts."""
    return JStream(
        declare=declare,
        name=STREAM,
        subjects=[ALL],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        max_age=settings.stream_max_age_days * 24 * 3600,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=settings.stream_replicas,
    )


def make_advisory_stream(settings: Settings, *, declare: bool = True) -> JStream:
    """The stream that keeps MAX_DELIVERIES advisories for the dead-letter path."""
    return JStream(
        name=ADVISORY_STREAM,
        declare=declare,
        subjects=[MAX_DELIVERIES_ADVISORY],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        max_age=settings.stream_max_age_days * 24 * 3600,
        num_replicas=settings.stream_replicas,
    )


def consumer_config(settings: Settings) -> ConsumerConfig:
    """A fresh consumer config (FastStream fills in names on the object it is given)."""
    return ConsumerConfig(
        ack_policy=JsAckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=settings.max_deliveries,
        max_ack_pending=1000,
    )


def make_broker(settings: Settings, name: str, *, middlewares: Sequence[Any] = ()) -> NatsBroker:
    options = connect_options(settings, name)
    return NatsBroker(
        options["servers"],
        security=_security(options),
        inbox_prefix=options.get("inbox_prefix", "_INBOX"),
        name=f"coursegen-{name}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        graceful_timeout=30.0,
        decoder=raw_decoder,
        middlewares=tuple(middlewares),
        log_level=logging.DEBUG,
    )


def _security(options: Mapping[str, Any]) -> NatsSecurity | None:
    """nats-py's connect options as FastStream's security object."""
    tls = options.get("tls")
    if "user" in options:
        return NatsUserPassword(options["user"], options["password"], ssl_context=tls)
    if "user_credentials" in options:
        return NatsCredentials(options["user_credentials"], ssl_context=tls)
    if "nkeys_seed" in options:
        return NatsNKey(options["nkeys_seed"], ssl_context=tls)
    return NatsSecurity(ssl_context=tls) if tls is not None else None


async def raw_decoder(msg: NatsMessage) -> bytes:
    """Hand handlers the bytes: we parse with pydantic ourselves, so a bad body is ours to report."""
    return msg.body


def subscribe_kwargs(
    settings: Settings, durable: str, stream: JStream | None = None, *, service: str | None = None
) -> dict[str, Any]:
    """The subscriber arguments every service uses: a durable pull consumer, acked by hand."""
    who = identity(settings, service)[0] if service else None
    return {
        # Pulled messages arrive on the service's own inbox, the only one its NATS user may read.
        "inbox_prefix": f"{inbox_prefix(who)}.".encode() if who else b"_INBOX.",
        # ``ensure_streams`` declares the stream: a service may create it, never update it.
        "stream": stream or make_stream(settings, declare=False),
        "durable": durable,
        # One message per fetch, and no fetch while every worker is busy: nothing sits
        # buffered with its ack_wait running.
        "pull_sub": PullSub(batch_size=1, timeout=5.0),
        "max_workers": settings.concurrency,
        "config": consumer_config(settings),
        "ack_policy": AckPolicy.MANUAL,
    }


async def ensure_streams(settings: Settings, user: str = ADMIN, *, give_up_after: float = 120.0) -> None:
    """Create the streams when they are missing, before consumers bind to them, retrying while the cluster forms.

    An existing stream is left as it is, whoever starts: its replicas, storage and limits
    are the operator's (a production R3 stream must never be rewritten to this replica's
    defaults). A difference is logged.
    """
    import nats as nats_client

    assert settings.nats_url
    options = connect_options(settings, user)

    async def quiet(exc: Exception) -> None:
        log.warning("NATS at %s: %s", settings.nats_url, exc)

    # Bounded: a service whose NATS never comes up fails at start with a clear error.
    nc = await nats_client.connect(
        options.pop("servers"),
        **options,
        max_reconnect_attempts=int(give_up_after),
        reconnect_time_wait=1,
        connect_timeout=5,
        error_cb=quiet,
    )
    try:
        js = nc.jetstream()
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(lambda exc: _publish_retryable(exc) or isinstance(exc, nats.js.errors.APIError)),
            wait=wait_exponential(multiplier=0.2, max=3),
            stop=stop_after_delay(give_up_after),
            reraise=True,
        ):
            with attempt:
                for stream in (make_stream(settings), make_advisory_stream(settings)):
                    # FastStream keeps a stream's subjects beside its config, and declares them together.
                    wanted = dataclasses.replace(stream.config, subjects=list(stream.subjects))
                    try:
                        existing = await js.stream_info(wanted.name or "")
                    except nats.js.errors.NotFoundError:
                        await _create_stream(js, wanted)
                        continue
                    _log_differences(existing.config, wanted)
    finally:
        await nc.close()


async def _create_stream(js: Any, config: Any) -> None:
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != 10058:  # "stream name already in use": another service created it first
            raise


def _log_differences(existing: Any, wanted: Any) -> None:
    for field in ("num_replicas", "storage", "retention", "max_age", "subjects"):
        have, want = getattr(existing, field, None), getattr(wanted, field, None)
        if field == "subjects":
            have, want = sorted(have or []), sorted(want or [])
        if have != want:
            log.warning(
                "stream %s has %s=%s where this service's settings say %s; left as it is",
                existing.name,
                field,
                have,
                want,
            )


class Bus:
    """Publishes events to JetStream and waits for the server's ack."""

    def __init__(self, broker: NatsBroker, *, give_up_after: float = 60.0, max_event_bytes: int = 256 * 1024) -> None:
        self.broker = broker
        self.give_up_after = give_up_after
        self.max_event_bytes = max_event_bytes

    async def publish(self, subject: str, event: Event, *, headers: Mapping[str, str] | None = None) -> None:
        msg_id = event.msg_id if isinstance(event, Handoff) else str(event.event_id)
        all_headers = {"Nats-Msg-Id": msg_id, "content-type": "application/json", **(headers or {})}
        body = event.model_dump_json().encode()
        if len(body) > self.max_event_bytes:
            raise EventTooLarge(
                f"{type(event).__name__} for {subject} is {len(body)} bytes, over the cap of "
                f"{self.max_event_bytes} (COURSEGEN_MAX_EVENT_BYTES): events carry ids and counts, not data"
            )
        # The telemetry middleware adds ``traceparent`` to the headers: the receiver's work joins this trace.
        with course_trace(event):
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_publish_retryable),
                wait=wait_exponential(multiplier=0.2, max=3),
                stop=stop_after_delay(self.give_up_after),
                reraise=True,
            ):
                with attempt:
                    await self.broker.publish(
                        body,
                        subject,
                        stream=STREAM,
                        headers=all_headers,
                        timeout=5.0,
                    )


class NatsDelivery:
    """A FastStream ``NatsMessage`` seen as a ``consume.Delivery``."""

    def __init__(self, message: NatsMessage) -> None:
        self.message = message

    @property
    def subject(self) -> str:
        return str(self.message.raw_message.subject)

    @property
    def body(self) -> bytes:
        return bytes(self.message.body)

    @property
    def headers(self) -> Mapping[str, str]:
        return self.message.headers or {}

    @property
    def attempt(self) -> int:
        try:
            return int(self.message.raw_message.metadata.num_delivered or 1)
        except Exception:
            return 1

    async def ack(self) -> None:
        await self.message.ack()

    async def nak(self, delay: float) -> None:
        await self.message.nack(delay=delay)

    async def term(self) -> None:
        await self.message.reject()

    async def in_progress(self) -> None:
        await self.message.in_progress()
