"""What talking to the database can raise, for callers that report it (and must not import the driver)."""

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
