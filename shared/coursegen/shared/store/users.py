"""Users, their browser sessions, and API keys: who may act for which company.

Secrets are never stored: a session token or API key is looked up by its
SHA-256 digest, which the caller computes. Finding the caller is the one read
that is not scoped to a company, because it is how the company is learnt: it
goes through SQL functions that run as the tables' owner and return only what
the caller needs (migrations/20261208100000_row_level_security.sql), so it works
for the gateway's role, which row-level security keeps to one company.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class User(_Frozen):
    user_id: uuid.UUID
    company_id: uuid.UUID
    email: str
    name: str
    password_hash: str


class SessionUser(_Frozen):
    """The signed-in user behind a browser session."""

    user_id: uuid.UUID
    company_id: uuid.UUID
    email: str
    name: str
    company_name: str
    csrf_token: str


class ApiKey(_Frozen):
    key_id: uuid.UUID
    company_id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime


async def create_user(conn: Connection, *, company_id: uuid.UUID, email: str, name: str, password_hash: str) -> User:
    row = await conn.fetchrow(
        """
        INSERT INTO users (company_id, email, name, password_hash) VALUES ($1, $2, $3, $4)
        RETURNING user_id, company_id, email, name, password_hash
        """,
        company_id,
        email,
        name,
        password_hash,
    )
    assert row is not None
    return User(**dict(row))


async def user_by_email(conn: Connection, email: str) -> User | None:
    row = await conn.fetchrow("SELECT user_id, company_id, email, name, password_hash FROM user_for_sign_in($1)", email)
    return User(**dict(row)) if row else None


async def set_password_hash(conn: Connection, user_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id, password_hash)


async def create_session(
    conn: Connection, *, token_hash: str, user: User, csrf_token: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO user_sessions (token_hash, user_id, company_id, csrf_token, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        token_hash,
        user.user_id,
        user.company_id,
        csrf_token,
        expires_at,
    )


async def session_user(conn: Connection, token_hash: str) -> SessionUser | None:
    """The user of an unexpired session."""
    row = await conn.fetchrow(
        "SELECT user_id, company_id, email, name, company_name, csrf_token FROM user_of_session($1)", token_hash
    )
    return SessionUser(**dict(row)) if row else None


async def delete_session(conn: Connection, token_hash: str) -> None:
    await conn.execute("DELETE FROM user_sessions WHERE token_hash = $1", token_hash)


async def create_api_key(conn: Connection, *, company_id: uuid.UUID, name: str, prefix: str, key_hash: str) -> ApiKey:
    row = await conn.fetchrow(
        """
        INSERT INTO api_keys (company_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4)
        RETURNING key_id, company_id, name, prefix, created_at
        """,
        company_id,
        name,
        prefix,
        key_hash,
    )
    assert row is not None
    return ApiKey(**dict(row))


async def api_key_company(conn: Connection, key_hash: str) -> uuid.UUID | None:
    """The company of a live API key, marking it used."""
    company_id: uuid.UUID | None = await conn.fetchval("SELECT company_of_api_key($1)", key_hash)
    return company_id
