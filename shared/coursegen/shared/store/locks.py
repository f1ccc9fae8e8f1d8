"""Advisory locks: one holder of a unit of work at a time, across processes.

A lock lives on its connection: held for as long as the caller keeps the
connection, released with it when a worker dies.
"""

from __future__ import annotations

import contextlib

from coursegen.shared.store._pool import Connection


async def try_lock(conn: Connection, key: int) -> bool:
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))


async def unlock(conn: Connection, key: int) -> None:
    with contextlib.suppress(Exception):  # a lost connection has released it already
        await conn.execute("SELECT pg_advisory_unlock($1)", key)
