"""The one statement a readiness probe sends: does the database answer."""

from __future__ import annotations

from coursegen.shared.store._pool import Connection


async def ping(conn: Connection) -> None:
    """Raises unless the server answers a trivial query on this connection."""
    await conn.fetchval("SELECT 1")
