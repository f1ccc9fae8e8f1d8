from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
"""A connection the store's functions run on: one held by the caller, often inside a transaction."""

COMPANY_SETTING = "coursegen.company_id"
"""The per-transaction setting that row-level security keys on."""


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class Database:
    """The pool, and the two ways to use it: a held connection, or a transaction scoped to a company.

    ``scoped(company_id)`` is the same pool seen by one company: each of its connections and
    transactions is scoped to that company unless told otherwise.
    """

    def __init__(self, pool: asyncpg.Pool[Any], *, company_id: uuid.UUID | None = None) -> None:
        self.pool = pool
        self.company_id = company_id

    def scoped(self, company_id: uuid.UUID) -> Database:
        """The pool as one company sees it (row-level security)."""
        return Database(self.pool, company_id=company_id)

    @contextlib.asynccontextmanager
    async def connection(self, company_id: uuid.UUID | None = None) -> AsyncIterator[Connection]:
        """One connection for a unit of work (a message, a request): one acquire, many statements.

        With ``company_id``, the statements run in one transaction scoped to that company (row-level security).
        """
        company_id = company_id or self.company_id
        async with self.pool.acquire() as conn:
            if company_id is None:
                yield conn
                return
            async with conn.transaction():
                await scope_to_company(conn, company_id)
                yield conn

    @contextlib.asynccontextmanager
    async def transaction(self, company_id: uuid.UUID | None = None) -> AsyncIterator[Connection]:
        """A transaction; with ``company_id``, scoped to that company for row-level security."""
        company_id = company_id or self.company_id
        async with self.pool.acquire() as conn, conn.transaction():
            if company_id is not None:
                await scope_to_company(conn, company_id)
            yield conn

    async def close(self) -> None:
        await self.pool.close()


class AlreadyStored(Exception):
    """A row with the same unique key is stored already: the work it records is done."""


@contextlib.asynccontextmanager
async def unit_of_work(conn: Connection) -> AsyncIterator[Connection]:
    """A transaction for one unit of work's output; a unique violation on its key is ``AlreadyStored``."""
    try:
        async with conn.transaction():
            yield conn
    except asyncpg.UniqueViolationError as exc:
        raise AlreadyStored(str(exc)) from exc


async def scope_to_company(conn: Connection, company_id: uuid.UUID | None, *, session: bool = False) -> None:
    """Scope the current transaction to one company (the setting row-level security reads); with
    ``session``, the held connection until scoped again. ``None`` unscopes it."""
    value = "" if company_id is None else str(company_id)
    await conn.execute("SELECT set_config($1, $2, $3)", COMPANY_SETTING, value, not session)


@contextlib.asynccontextmanager
async def scoped_session(conn: Connection, company_id: uuid.UUID) -> AsyncIterator[Connection]:
    """Scope a held connection to one company for as long as the block runs, across its transactions
    (a message's work between its checks and its handoff); unscoped again when it ends."""
    await scope_to_company(conn, company_id, session=True)
    try:
        yield conn
    finally:
        # A broken connection is not reused, and the pool's reset on release clears the setting too.
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await scope_to_company(conn, None, session=True)


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
        except (OSError, asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.PostgresConnectionError) as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Python 3.11's wait_for (inside asyncpg's connect) can let a connect error win over a
                # cancel that came at the same moment: the caller asked to stop, so stop.
                raise asyncio.CancelledError from exc
            if asyncio.get_running_loop().time() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
