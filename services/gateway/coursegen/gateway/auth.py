"""Who is calling: a browser session (cookie) or an API key (``Authorization: Bearer``), and for which company.

The company always comes from the stored session or key, never from the request.
Every form and every state-changing call from a browser carries the CSRF token
(a hidden field or the ``X-CSRF-Token`` header), checked against the session's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from coursegen.gateway.problems import Problem
from coursegen.gateway.security import digest, same
from coursegen.gateway.state import state
from coursegen.shared.store.users import SessionUser, api_key_company, session_user

SESSION_COOKIE = "cg_session"
CSRF_COOKIE = "cg_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class SignInRequired(Exception):
    """A page asked for by someone not signed in: they are sent to the sign-in page."""


@dataclass(frozen=True)
class Caller:
    company_id: uuid.UUID
    user: SessionUser | None
    """The signed-in user; None for an API key."""

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.user.user_id if self.user else None


async def current_user(request: Request) -> SessionUser | None:
    """The signed-in user of this request's session cookie (read once per request)."""
    if "user" in request.scope.setdefault("state", {}):
        cached: SessionUser | None = request.scope["state"]["user"]
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        # Before the company is known: the store's lookup by digest (the one read not scoped to a company).
        async with state(request).db.connection() as conn:
            user = await session_user(conn, digest(token))
    request.scope["state"]["user"] = user
    return user


async def expected_csrf(request: Request) -> str | None:
    user = await current_user(request)
    return user.csrf_token if user else request.cookies.get(CSRF_COOKIE)


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing browser request whose CSRF token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    expected = await expected_csrf(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not same(expected, sent):
        raise Problem(
            403,
            "the form is out of date or was not sent from this site; reload the page and try again",
            title="CSRF check failed",
        )


async def api_caller(request: Request) -> Caller:
    """The caller of an API route: an API key, or a signed-in browser (with its CSRF token on changes)."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if header:
        if scheme.lower() != "bearer" or not credential.strip():
            raise _unauthorized("send the API key as: Authorization: Bearer <key>")
        async with state(request).db.connection() as conn:
            company_id = await api_key_company(conn, digest(credential.strip()))
        if company_id is None:
            raise _unauthorized("the API key is unknown or revoked")
        return Caller(company_id=company_id, user=None)
    user = await current_user(request)
    if user is None:
        raise _unauthorized("sign in, or send an API key as: Authorization: Bearer <key>")
    await check_csrf(request)
    return Caller(company_id=user.company_id, user=user)


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, title="Unauthorized", headers={"WWW-Authenticate": 'Bearer realm="coursegen"'})


async def page_caller(request: Request) -> Caller:
    """The signed-in user of a page (sent to sign in otherwise), with CSRF checked on every form."""
    user = await current_user(request)
    if user is None:
        raise SignInRequired()
    await check_csrf(request)
    return Caller(company_id=user.company_id, user=user)


ApiCaller = Annotated[Caller, Depends(api_caller)]
PageCaller = Annotated[Caller, Depends(page_caller)]
