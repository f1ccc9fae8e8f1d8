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

No exception escapes: a malformed message never crashes a service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from coursegen.shared.errors import CoursegenError, PermanentError, RetryableError, classify

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


@dataclass(frozen=True)
class RetryPolicy:
    max_deliveries: int
    base_delay: float
    max_delay: float

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
    try:
        await handle(delivery)
    except asyncio.CancelledError:
        # The service is stopping: leave the message to be redelivered.
        raise
    except Exception as exc:
        error: CoursegenError = classify(exc)
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
        try:
            await on_permanent(delivery, error)
        except Exception as hook_exc:
            # Recording the failure failed (the database is away): let it come back.
            log.warning("could not record the failure of %s, will retry: %s", delivery.subject, hook_exc)
            await _quietly(delivery.nak(retry.delay(delivery.attempt)))
            return "nak"
        await _quietly(delivery.term())
        return "term"
    await delivery.ack()
    return "ack"


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
