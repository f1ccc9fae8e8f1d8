from __future__ import annotations

import asyncio
import json
from typing import Any, TypeAlias

import asyncpg

Executor: TypeAlias = "asyncpg.Pool[Any] | asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect(url: str, *, min_size: int = 1, max_size: int = 5) -> asyncpg.Pool[Any]:
    """A connection pool whose json/jsonb columns read and write Python objects.

    The pool replaces connections that the server closed, so a restarted
    database is picked up again on the next acquire.
    """
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        max_inactive_connection_lifetime=60,
        command_timeout=60,
    )
    assert pool is not None
    return pool


async def wait_for_database(url: str, *, timeout: float = 60.0, max_size: int = 5) -> asyncpg.Pool[Any]:
    """Connect, retrying while the server is starting or restarting."""
    deadline = asyncio.get_running_loop().time() + timeout
    delay = 0.2
    while True:
        try:
            return await connect(url, max_size=max_size)
        except (OSError, asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.PostgresConnectionError):
            if asyncio.get_running_loop().time() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
