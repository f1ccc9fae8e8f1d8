"""The NATS users on a real nats-server: each service may do its own work and nothing else.

Every refusal is the server's: the client sees the permissions violation it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from coursegen.shared.bus import ensure_streams
from coursegen.shared.events import Handoff
from coursegen.shared.nats_auth import USERS, connect_options, user
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import JOB_REQUESTED, SERVICES, STREAM, durable_name, handoff_subject
from tests.helpers import service_definition


@pytest.fixture(autouse=True, scope="module")
async def streams(settings: Settings) -> None:
    """The streams exist, as they do once any service has started."""
    await ensure_streams(settings)


@dataclass
class Session:
    nc: Client
    errors: list[str] = field(default_factory=list)

    async def refused(self, what: str) -> bool:
        """Whether the server has reported a permissions violation naming ``what``."""
        for _ in range(50):
            await self.nc.flush(timeout=2)
            if any("permissions violation" in e.lower() and what.lower() in e.lower() for e in self.errors):
                return True
            await asyncio.sleep(0.02)
        return False


@contextlib.asynccontextmanager
async def connected(settings: Settings, name: str) -> AsyncIterator[Session]:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    options = connect_options(settings, name)
    assert options.get("user") == name, "the tests' passwords file names every user"
    nc = await nats.connect(**options, error_cb=on_error, allow_reconnect=False)
    try:
        yield Session(nc, errors)
    finally:
        await nc.close()


async def stored_on(settings: Settings, subject: str) -> int:
    """Messages the stream holds on ``subject`` (read as the operator)."""
    assert settings.nats_url
    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().stream_info(STREAM, subjects_filter=subject)
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()


def handoff(stage: str) -> bytes:
    event = Handoff.create(
        stage=stage,  # type: ignore[arg-type]
        from_stage="coordinator",
        job_id=uuid.uuid4(),
        company_id=uuid.uuid4(),
        employee_id=uuid.uuid4(),
        session_id=f"forged-{uuid.uuid4().hex}",
        module_index=None if stage == "planner" else 0,
    )
    return event.model_dump_json().encode()


async def test_a_service_cannot_publish_another_services_subject(settings: Settings) -> None:
    # The researcher hands off to content only; the enhancer's handoff belongs to quality.
    forged = handoff_subject("enhancer")
    before = await stored_on(settings, forged)
    async with connected(settings, "researcher") as s:
        await s.nc.publish(forged, handoff("enhancer"))
        assert await s.refused(f'publish to "{forged}"')
        with pytest.raises(nats.errors.TimeoutError):
            await s.nc.jetstream().publish(forged, handoff("enhancer"), timeout=1)
    assert await stored_on(settings, forged) == before, "a refused handoff never reaches the stream"


async def test_a_service_cannot_pull_from_another_services_consumer(settings: Settings) -> None:
    pull = f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{durable_name('content')}"
    async with connected(settings, "researcher") as s:
        with pytest.raises(nats.errors.TimeoutError):
            await s.nc.request(pull, b'{"batch": 1, "expires": 100000000}', timeout=1)
        assert await s.refused(f'publish to "{pull}"')


async def test_a_service_cannot_delete_or_change_the_stream(settings: Settings) -> None:
    async with connected(settings, "planner") as s:
        js = s.nc.jetstream(timeout=1)
        with pytest.raises(nats.errors.TimeoutError):
            await js.delete_stream(STREAM)
        assert await s.refused(f'publish to "$JS.API.STREAM.DELETE.{STREAM}"')
        with pytest.raises(nats.errors.TimeoutError):
            await js.purge_stream(STREAM)
        assert await s.refused(f'publish to "$JS.API.STREAM.PURGE.{STREAM}"')
        # What it needs still works: reading its stream's info.
        info = await js.stream_info(STREAM)
        assert info.config.name == STREAM
    assert await stored_on(settings, "coursegen.>") >= 0  # the stream is still there


async def test_a_service_cannot_read_another_services_inbox(settings: Settings) -> None:
    async with connected(settings, "content") as s:
        await s.nc.subscribe("_INBOX.>")
        assert await s.refused('subscription to "_inbox.>"')
        await s.nc.subscribe("_INBOX_researcher.>")
        assert await s.refused('subscription to "_inbox_researcher.>"')


async def test_the_client_cannot_publish_a_handoff_but_can_request_a_job(settings: Settings) -> None:
    forged = handoff_subject("planner")
    before = await stored_on(settings, forged)
    async with connected(settings, "client") as s:
        await s.nc.publish(forged, handoff("planner"))
        assert await s.refused(f'publish to "{forged}"')
        await s.nc.publish("coursegen.job.completed", b"{}")
        assert await s.refused('publish to "coursegen.job.completed"')
        # Its own subject is accepted, and acknowledged by the stream.
        ack = await s.nc.jetstream().publish(
            JOB_REQUESTED, b"{}", stream=STREAM, headers={"Nats-Msg-Id": uuid.uuid4().hex}, timeout=5
        )
        assert ack.stream == STREAM
        # It may watch outcomes, not the work in between.
        await s.nc.subscribe(forged)
        assert await s.refused(f'subscription to "{forged}"')
    assert await stored_on(settings, forged) == before


def test_every_services_consumers_are_the_ones_its_user_may_pull() -> None:
    """The permission table and the services' subscriptions agree: none is locked out of its own consumer."""
    for name in SERVICES:
        definition = service_definition(name)
        durables = {
            durable_name(name) + (f"-{sub.durable_suffix}" if sub.durable_suffix else "")
            for sub in definition.subscriptions
        }
        assert {durable for _, durable in user(name).consumers} == durables, name
    assert {u.name for u in USERS} >= {*SERVICES, "client", "gateway", "admin"}


def test_every_service_may_pull_from_every_consumer_it_declares() -> None:
    """A subscription added to a service without its permission would stop the service at start."""
    from coursegen.shared.nats_auth import user
    from coursegen.shared.subjects import SERVICES, durable_name
    from tests.helpers import service_definition

    for name in SERVICES:
        allowed = {durable for _, durable in user(name).consumers}
        for sub in service_definition(name).subscriptions:
            durable = durable_name(name) + (f"-{sub.durable_suffix}" if sub.durable_suffix else "")
            assert durable in allowed, f"{name} declares {durable} but may not pull from it"


async def test_the_gateway_follows_every_event_but_cannot_touch_a_stages_consumer(settings: Settings) -> None:
    durable = durable_name("planner")
    async with connected(settings, "gateway") as s:
        js = s.nc.jetstream(timeout=1)
        with pytest.raises(nats.errors.TimeoutError):
            await js.delete_consumer(STREAM, durable)
        assert await s.refused(f'publish to "$JS.API.CONSUMER.DELETE.{STREAM}.{durable}"')
        with pytest.raises(nats.errors.TimeoutError):
            await js.add_consumer(STREAM, name=durable, filter_subject=handoff_subject("planner"))
        assert await s.refused(f'publish to "$JS.API.CONSUMER.CREATE.{STREAM}.{durable}.')
        # What it needs still works: an ordered consumer that sees every event as it is stored.
        seen: asyncio.Queue[str] = asyncio.Queue()

        async def on_event(msg: Msg) -> None:
            await seen.put(msg.subject)

        follow = await js.subscribe(
            "coursegen.>", stream=STREAM, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW, cb=on_event
        )
        await js.publish(JOB_REQUESTED, b"{}", stream=STREAM, headers={"Nats-Msg-Id": uuid.uuid4().hex}, timeout=5)
        assert await asyncio.wait_for(seen.get(), 10) == JOB_REQUESTED
        await follow.unsubscribe()
