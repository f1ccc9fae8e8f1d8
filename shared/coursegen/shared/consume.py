"""Taking one message off the bus: parse it, handle it, settle it.

Every service's handler runs inside ``settle``, which turns the outcome into
the message's fate in one place:

- returned normally            → ack
- ``RetryableError`` (or any exception ``classify`` calls retryable)
                               → nak with a growing delay, until the delivery
                                 limit; on the last delivery it is dead-lettered
                                 (a process that dies on the last delivery is
                                 dead-lettered by the tracker, from the server's
                                 MAX_DELIVERIES advisory)
- ``PermanentError``           → term, and the service's ``on_permanent`` hook
                                 records it (``stage.failed``, a failed run, …)
- ``DependencyUnavailable``    → (the database or the bus is away) waited out in
                                 the process, heartbeating, with a capped backoff,
                                 for up to ``outage_seconds``: an outage of minutes
                                 spends none of the message's deliveries

A message is dropped only after its failure is recorded: when the hook that
records it fails, the message comes back.

No exception escapes: a malformed message never crashes a service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from coursegen.shared.errors import CoursegenError, DependencyUnavailable, PermanentError, RetryableError, classify

log = logging.getLogger("coursegen.consume")


class Delivery(Protocol):
    """One delivery of a JetStream message, whatever client carried it."""

    @property
    def subject(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def attempt(self) -> int:
        """1 for the first delivery, 2 for the first redelivery, …"""
        ...

    async def ack(self) -> None: ...
    async def nak(self, delay: float) -> None: ...
    async def term(self) -> None: ...
    async def in_progress(self) -> None: ...


OUTAGE_FIRST_WAIT = 0.5
OUTAGE_MAX_WAIT = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    max_deliveries: int
    base_delay: float
    max_delay: float
    outage_seconds: float = 0.0
    """How long a dependency outage is waited out in the process before it costs a delivery."""

    def delay(self, attempt: int) -> float:
        """The redelivery delay after ``attempt`` failed: base, 2×base, 4×base, … up to max."""
        return float(min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1)))


PermanentHook = Callable[[Delivery, PermanentError], Awaitable[None]]


async def settle(
    delivery: Delivery,
    handle: Callable[[Delivery], Awaitable[None]],
    *,
    retry: RetryPolicy,
    on_permanent: PermanentHook,
) -> str:
    """Run ``handle`` and settle the delivery. Returns ``ack``, ``nak`` or ``term``."""
    outage = _Outage(retry, delivery)
    while True:
        try:
            await handle(delivery)
        except asyncio.CancelledError:
            # The service is stopping: leave the message to be redelivered.
            raise
        except Exception as exc:
            error: CoursegenError = classify(exc)
            if isinstance(error, DependencyUnavailable) and await outage.wait(error):
                continue
            return await _fail(delivery, error, retry, on_permanent, outage)
        await delivery.ack()
        return "ack"


async def _fail(
    delivery: Delivery, error: CoursegenError, retry: RetryPolicy, on_permanent: PermanentHook, outage: _Outage
) -> str:
    if isinstance(error, RetryableError) and delivery.attempt < retry.max_deliveries:
        delay = retry.delay(delivery.attempt)
        log.warning(
            "retrying %s in %.1fs (attempt %d/%d): %s",
            delivery.subject,
            delay,
            delivery.attempt,
            retry.max_deliveries,
            error,
        )
        await _quietly(delivery.nak(delay))
        return "nak"
    if isinstance(error, RetryableError):
        permanent = PermanentError(f"gave up after {delivery.attempt} deliveries: {error}")
        permanent.kind = error.kind
        error = permanent
    assert isinstance(error, PermanentError)
    log.error("failed for good on %s (attempt %d): %s", delivery.subject, delivery.attempt, error)
    while True:
        try:
            await on_permanent(delivery, error)
            break
        except Exception as hook_exc:
            hook_error = classify(hook_exc)
            if isinstance(hook_error, DependencyUnavailable) and await outage.wait(hook_error):
                continue
            # Recording the failure failed: the message must come back, never vanish unrecorded.
            log.warning("could not record the failure of %s, will retry: %s", delivery.subject, hook_exc)
            await _quietly(delivery.nak(retry.delay(delivery.attempt)))
            return "nak"
    await _quietly(delivery.term())
    return "term"


class _Outage:
    """Waiting out a dependency outage with one message in hand."""

    def __init__(self, retry: RetryPolicy, delivery: Delivery) -> None:
        self.retry = retry
        self.delivery = delivery
        self.started: float | None = None
        self.wait_seconds = OUTAGE_FIRST_WAIT

    async def wait(self, error: CoursegenError) -> bool:
        """Sleep before the next try; False once the outage has lasted longer than the policy allows."""
        now = asyncio.get_running_loop().time()
        if self.started is None:
            self.started = now
        if now - self.started + self.wait_seconds > self.retry.outage_seconds:
            return False
        log.warning("%s: waiting %.1fs for a dependency: %s", self.delivery.subject, self.wait_seconds, error)
        # Each wait starts with a heartbeat: the server keeps the message with this worker.
        await _quietly(self.delivery.in_progress())
        await asyncio.sleep(self.wait_seconds)
        self.wait_seconds = min(OUTAGE_MAX_WAIT, self.wait_seconds * 2)
        return True


async def _quietly(settlement: Awaitable[None]) -> None:
    # A lost connection while settling is fine: the server redelivers after ack_wait.
    with contextlib.suppress(Exception):
        await settlement


@contextlib.asynccontextmanager
async def heartbeat(delivery: Delivery, every: float) -> AsyncIterator[None]:
    """Tell the server the message is still being worked on, so it is not redelivered."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                await delivery.in_progress()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
