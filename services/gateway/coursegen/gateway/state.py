"""What one gateway process holds while it runs: the database, the bus connection, the live feed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from coursegen.gateway.ratelimit import RateLimiter
from coursegen.gateway.settings import GatewaySettings
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database

if TYPE_CHECKING:
    from coursegen.gateway.feed import JobFeed


@dataclass
class GatewayState:
    settings: Settings
    gateway: GatewaySettings
    db: Database
    nc: NATS
    js: JetStreamContext
    feed: JobFeed
    limiter: RateLimiter
    login_limiter: RateLimiter


def state(request: Request) -> GatewayState:
    found: GatewayState = request.app.state.gateway
    return found
