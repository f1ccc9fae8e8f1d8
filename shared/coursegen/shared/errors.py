"""The errors of coursegen, and which of them are worth retrying.

::

    CoursegenError
    ├── RetryableError            nak with a growing delay; redelivered up to the delivery
    │   │                         limit, then dead-lettered: the course run fails with it
    │   ├── DependencyUnavailable the database or the bus is away for a moment
    │   └── InvalidData           the stored inputs cannot be worked on (yet): data can be
    │                             fixed by a person, or still be on its way
    └── PermanentError            terminate the message and publish stage.failed
        ├── InvalidEvent          the message is not a valid event
        ├── TenantMismatch        the message names a company, employee or job that its
        │                         stored course run does not: recorded, never processed
        ├── TransitionRefused     a status change the owner of that status does not allow
        ├── LimitExceeded         a company asked for more than its limits allow
        ├── BudgetExceeded        the job's token budget is spent
        └── AgentFailed           the agent broke its contract (bad output, guardrail)

``DependencyUnavailable`` is special: the database or the bus being away is
waited out in the process (heartbeating, with a capped backoff) for as long as
the outage lasts, instead of spending the message's deliveries on it.

``classify`` is the one place that decides for exceptions raised by libraries.
"""

from __future__ import annotations

import asyncio
import socket

from coursegen.shared.events import FailureKind


class CoursegenError(Exception):
    """Base of every coursegen error."""


class RetryableError(CoursegenError):
    """A failure that may go away: try the message again later."""

    kind: FailureKind = "max_deliveries"
    """The failure kind recorded when the retries run out."""


class DependencyUnavailable(RetryableError):
    """The database, the bus or the model endpoint is not reachable right now."""


class PermanentError(CoursegenError):
    """A failure that another attempt will not fix."""

    kind: FailureKind = "internal"


class InvalidData(RetryableError):
    kind: FailureKind = "invalid_data"


class InvalidEvent(PermanentError):
    kind: FailureKind = "invalid_event"


class TenantMismatch(PermanentError):
    kind: FailureKind = "tenant_mismatch"


class LimitExceeded(PermanentError):
    """A company asked for more than its limits allow (jobs at once, requests a minute)."""

    kind: FailureKind = "limit_exceeded"


class TransitionRefused(PermanentError):
    kind: FailureKind = "internal"


class EventTooLarge(PermanentError):
    """An event over the bus's size cap (``COURSEGEN_MAX_EVENT_BYTES``): refused before NATS sees it."""


class BudgetExceeded(PermanentError):
    kind: FailureKind = "budget_exceeded"


class AgentFailed(PermanentError):
    kind: FailureKind = "agent_error"


# JetStream answers 409 "duplicate message id is in process" when a publish with the same
# Nats-Msg-Id is still being agreed on by a cluster (a retry during an election does
# this); once that settles, the same publish is acked as a duplicate.
_JS_TRANSIENT_ERR_CODES = frozenset({10158})


def transient_nats_error(exc: BaseException) -> bool:
    """True for NATS errors that a later attempt of the same call can get past."""
    import nats.errors
    import nats.js.errors

    if isinstance(exc, nats.js.errors.APIError):
        return (exc.code is not None and exc.code >= 500) or exc.err_code in _JS_TRANSIENT_ERR_CODES
    return isinstance(
        exc,
        nats.errors.TimeoutError
        | nats.errors.NoRespondersError
        | nats.errors.ConnectionClosedError
        | nats.errors.StaleConnectionError
        | nats.errors.OutboundBufferLimitError
        | nats.errors.ConnectionReconnectingError
        | nats.js.errors.NoStreamResponseError,
    )


def classify(exc: BaseException) -> CoursegenError:
    """Map any exception to retryable or permanent."""
    if isinstance(exc, CoursegenError):
        return exc
    # Imported here: the error module is imported everywhere, these are heavy.
    import openai
    from agents.exceptions import (
        AgentsException,
        InputGuardrailTripwireTriggered,
        MaxTurnsExceeded,
        ModelBehaviorError,
        OutputGuardrailTripwireTriggered,
        UserError,
    )

    if isinstance(exc, AgentsException) and exc.__cause__ is not None:
        # A tool's own error, wrapped by the SDK: judge the cause.
        inner = classify(exc.__cause__)
        if isinstance(inner, RetryableError) or isinstance(exc.__cause__, CoursegenError):
            return inner
    if isinstance(exc, InputGuardrailTripwireTriggered | OutputGuardrailTripwireTriggered):
        err: PermanentError = AgentFailed(f"guardrail tripped: {exc}")
        err.kind = "guardrail"
        return err
    if isinstance(exc, MaxTurnsExceeded | ModelBehaviorError | UserError):
        return AgentFailed(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, openai.RateLimitError | openai.APIConnectionError | openai.APITimeoutError):
        return RetryableError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500 or exc.status_code in (408, 409, 429):
            return RetryableError(f"model endpoint answered {exc.status_code}")
        return AgentFailed(f"model endpoint answered {exc.status_code}: {exc.message}")
    from coursegen.shared.store.errors import database_error, database_unavailable

    if database_unavailable(exc):
        return DependencyUnavailable(f"database: {type(exc).__name__}: {exc}")
    if transient_nats_error(exc):
        return DependencyUnavailable(f"bus: {exc}")
    if isinstance(exc, ConnectionError | TimeoutError | asyncio.TimeoutError | socket.gaierror | OSError):
        return DependencyUnavailable(f"{type(exc).__name__}: {exc}")
    if database_error(exc):
        return PermanentError(f"database: {type(exc).__name__}: {exc}")
    return PermanentError(f"{type(exc).__name__}: {exc}")
