"""The gateway: the web app and the HTTP API, as one FastAPI app.

It reads through the store and writes commands as events; the pipeline never
depends on it. ``create_app`` builds the app; the database pool, the NATS
connection and the live feed are opened in its lifespan, never at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import nats
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from coursegen.gateway import api, learner_pages, pages, problems, review_api, review_pages, views
from coursegen.gateway.auth import SESSION_COOKIE
from coursegen.gateway.feed import JobFeed
from coursegen.gateway.ratelimit import RateLimiter
from coursegen.gateway.security import digest
from coursegen.gateway.settings import GatewaySettings
from coursegen.gateway.state import GatewayState
from coursegen.shared.bus import ensure_streams
from coursegen.shared.nats_auth import GATEWAY, connect_options
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, health, wait_for_database

log = logging.getLogger("coursegen.gateway")

STATIC_DIR = Path(__file__).parent / "static"


class RateLimit:
    """Answers 429 (a problem, with ``Retry-After``) to a caller over its rate: per API key, session or address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        gateway: GatewayState | None = getattr(scope["app"].state, "gateway", None)
        if gateway is None:
            await self.app(scope, receive, send)
            return
        wait = gateway.limiter.take(_caller_key(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        body = (
            '{"type":"about:blank","title":"Too Many Requests","status":429,'
            f'"detail":"too many requests; try again in {wait:.0f} s"}}'
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", problems.PROBLEM_JSON.encode()),
                    (b"retry-after", str(max(1, round(wait))).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _caller_key(scope: Scope) -> str:
    headers: MutableMapping[str, str] = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    auth = headers.get("authorization")
    if auth:
        return "key:" + digest(auth)[:24]
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return "session:" + digest(value)[:24]
    client = scope.get("client")
    return "addr:" + (client[0] if client else "?")


def create_app(
    settings: Settings,
    gateway_settings: GatewaySettings | None = None,
    *,
    on_ready: Callable[[], Awaitable[None] | None] | None = None,
) -> FastAPI:
    gw = gateway_settings or GatewaySettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database_url = settings.gateway_database_url or settings.database_url
        assert database_url and settings.nats_url
        await ensure_streams(settings, GATEWAY)
        pool = await wait_for_database(database_url, max_size=settings.db_pool_max)
        async with pool.acquire() as conn:
            if await health.sees_unscoped_rows(conn):
                log.warning(
                    "the gateway's database role reads every company's rows: give it its own role "
                    "(COURSEGEN_GATEWAY_DATABASE_URL, coursegen_gateway) so row-level security holds it to one"
                )
        # Signed in as the gateway's own NATS user: it may publish what a client may and follow the stream.
        options = connect_options(settings, GATEWAY)
        nc = await nats.connect(options.pop("servers"), **options, name="coursegen-gateway", max_reconnect_attempts=-1)
        js = nc.jetstream()
        db = Database(pool)

        async def load(company_id: uuid.UUID, job_id: uuid.UUID) -> views.JobDetail | None:
            return await views.job_detail(db, company_id, job_id)

        feed = JobFeed(load)
        await feed.start(js)
        app.state.gateway = GatewayState(
            settings=settings,
            gateway=gw,
            db=db,
            nc=nc,
            js=js,
            feed=feed,
            limiter=RateLimiter(gw.rate_per_second, gw.rate_burst),
            login_limiter=RateLimiter(gw.login_attempts_per_minute / 60.0, gw.login_attempts_per_minute),
        )
        if on_ready is not None:
            result = on_ready()
            if result is not None:
                await result
        try:
            yield
        finally:
            await feed.stop()
            # A stop must not wait on the bus: what the gateway publishes is acked before it answers.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)
            await asyncio.wait_for(pool.close(), 10)

    app = FastAPI(
        title="coursegen",
        summary="Personalized training courses for a company's people: its employees, roles, knowledge base, "
        "course generation jobs and courses.",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    problems.install(app)
    pages.install(app)
    review_pages.install(app)
    app.include_router(api.router)
    app.include_router(review_api.router)
    app.include_router(pages.router)
    app.include_router(review_pages.router)
    app.include_router(learner_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(RateLimit)
    return app


def ready_file_writer(path: str | None) -> Callable[[], None] | None:
    if not path:
        return None

    def write() -> None:
        Path(path).write_text(str(os.getpid()))

    return write


def run(settings: Settings, gateway_settings: GatewaySettings | None = None, *, ready_file: str | None = None) -> None:
    """Serve the app with uvicorn until SIGTERM/SIGINT."""
    import uvicorn

    gw = gateway_settings or GatewaySettings()
    app = create_app(settings, gw, on_ready=ready_file_writer(ready_file))
    config: dict[str, Any] = {"host": gw.host, "port": gw.port, "log_config": None, "access_log": False}
    uvicorn.run(app, **config)
