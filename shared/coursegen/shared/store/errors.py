"""What the database's errors mean: for callers that report them (and must not import the driver), and the
store's half of ``coursegen.shared.errors.classify``."""

from __future__ import annotations

import asyncpg

DatabaseError = asyncpg.PostgresError
"""An error the server (or the driver, for a protocol problem) reported."""

DATABASE_ERRORS: tuple[type[Exception], ...] = (OSError, asyncpg.PostgresError)
"""Anything a read or write can fail with: the server unreachable, or an error it reported."""

TRANSIENT_DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
)
"""Errors worth waiting out: the database restarting, or a connection dropped under us."""


def database_unavailable(exc: BaseException) -> bool:
    """True for database errors that the same statement can get past later, by their cause.

    Lost or refused connections, a server shutting down or starting up, a read-only
    transaction (a failover in progress), statement and lock timeouts, serialization
    failures and deadlocks. A unique violation is not here: on an artifact's own key it
    means the work is done already (``AlreadyStored``), where the store writes it.
    """
    return isinstance(
        exc,
        asyncpg.exceptions.PostgresConnectionError  # class 08: cannot connect, connection lost
        | asyncpg.exceptions.OperatorInterventionError  # class 57: shutting down, starting up, statement timeout
        | asyncpg.exceptions.TooManyConnectionsError
        | asyncpg.exceptions.ReadOnlySQLTransactionError  # failover: the old primary is read-only
        | asyncpg.exceptions.LockNotAvailableError  # lock_timeout
        | asyncpg.exceptions.SerializationError
        | asyncpg.exceptions.DeadlockDetectedError
        | asyncpg.exceptions.InterfaceError
        | asyncpg.exceptions.InternalClientError,
    ) or (isinstance(exc, ConnectionError | OSError | TimeoutError) and _raised_in_asyncpg(exc))


def database_error(exc: BaseException) -> bool:
    """Any other error the database answered: the statement itself is wrong."""
    return isinstance(exc, asyncpg.exceptions.PostgresError)


def _raised_in_asyncpg(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if "asyncpg" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False
