"""What a readiness probe sends (does the database answer), and what a process checks of its role at start."""

from __future__ import annotations

from coursegen.shared.store._pool import Connection


async def ping(conn: Connection) -> None:
    """Raises unless the server answers a trivial query on this connection."""
    await conn.fetchval("SELECT 1")


async def sees_unscoped_rows(conn: Connection) -> bool:
    """Whether this connection's role reads companies outside a company-scoped transaction.

    The gateway's role does not (row-level security); the pipeline's and the owner's do.
    """
    seen: bool = await conn.fetchval("SELECT EXISTS (SELECT FROM companies)")
    return seen
