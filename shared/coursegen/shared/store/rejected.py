"""Messages that could not be handled at all: kept for a person to look at, never retried."""

from __future__ import annotations

from collections.abc import Mapping

from coursegen.shared.store._pool import Connection

MAX_PAYLOAD_CHARS = 100_000


def storable(text: str) -> str:
    """PostgreSQL text holds no NUL character; anything else a sender put in is kept."""
    return text.replace("\x00", "\ufffd")


async def record_rejected(
    conn: Connection, *, subject: str, service: str, reason: str, body: bytes, headers: Mapping[str, str]
) -> None:
    await conn.execute(
        "INSERT INTO rejected_messages (subject, service, reason, payload, headers) VALUES ($1, $2, $3, $4, $5)",
        storable(subject),
        service,
        storable(reason),
        storable(body.decode("utf-8", errors="replace")[:MAX_PAYLOAD_CHARS]),
        {storable(k): storable(v) for k, v in headers.items()},
    )
