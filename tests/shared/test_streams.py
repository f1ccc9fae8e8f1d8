"""A service starting up never rewrites the stream an operator configured."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from coursegen.shared.bus import ensure_streams
from coursegen.shared.service import running
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import ADVISORY_STREAM, ALL, MAX_DELIVERIES_ADVISORY, STREAM
from coursegen.stack.embedded import EmbeddedNats
from tests.helpers import service_definition


@pytest.fixture
async def own_nats() -> AsyncIterator[EmbeddedNats]:
    server = EmbeddedNats(Path(tempfile.mkdtemp(prefix="coursegen-streams-")) / "nats").start()
    yield server
    server.stop()


async def test_an_existing_stream_keeps_its_limits(own_nats: EmbeddedNats, caplog: pytest.LogCaptureFixture) -> None:
    nc = await nats.connect(own_nats.url)
    try:
        js = nc.jetstream()
        # As an operator made it: a day's retention and a message cap this service knows nothing of.
        await js.add_stream(StreamConfig(name=STREAM, subjects=[ALL], max_age=24 * 3600, max_msgs=12345))
        settings = Settings(nats_url=own_nats.url, database_url="postgresql://unused", stream_max_age_days=7)

        await ensure_streams(settings)

        info = await js.stream_info(STREAM)
        assert info.config.max_age == 24 * 3600 and info.config.max_msgs == 12345
        assert "left as it is" in caplog.text
        # A missing stream is created.
        assert (await js.stream_info(ADVISORY_STREAM)).config.name == ADVISORY_STREAM
    finally:
        await nc.close()


async def test_the_tracker_starts_beside_an_operators_dead_letter_stream_and_leaves_it_alone(
    settings: Settings,
) -> None:
    """The tracker subscribes to the advisory stream without declaring it: as its own NATS user it may not
    update a stream, and an operator's limits (and replicas) must survive every start."""
    server = EmbeddedNats(Path(tempfile.mkdtemp(prefix="coursegen-streams-")) / "nats", secure=True).start()
    try:
        own = settings.model_copy(
            update={"nats_url": server.url_as("admin"), "nats_passwords_file": server.passwords_file}
        )
        nc = await nats.connect(own.nats_url)
        try:
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name=STREAM, subjects=[ALL], max_age=24 * 3600))
            await js.add_stream(
                StreamConfig(name=ADVISORY_STREAM, subjects=[MAX_DELIVERIES_ADVISORY], max_age=3600, max_msgs=777)
            )

            async with running(service_definition("tracker"), own):
                info = await js.stream_info(ADVISORY_STREAM)
                assert (info.config.max_age, info.config.max_msgs) == (3600, 777)
                consumers = [c.name for c in await js.consumers_info(ADVISORY_STREAM)]
                assert consumers, "the tracker bound its dead-letter consumer"
        finally:
            await nc.close()
    finally:
        server.stop()
