"""A database outage of a minute loses nothing: every service stays up and the job completes with every course."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from coursegen.shared.consume import settle
from coursegen.shared.service import Runtime
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database
from coursegen.stack.embedded import EmbeddedNats, EmbeddedPostgres
from coursegen.tracker.dead_letters import DeadLetterHandler
from tests.chaos.test_restarts import _bounce, run_with_restart, servers  # noqa: F401 (the fixture)
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import IN_MEMORY_RETRY

pytestmark = pytest.mark.chaos


def production_retries(settings: Settings) -> Settings:
    """The shipped retry settings: five deliveries, doubling from a second. Without waiting out the
    outage in the process they are spent in about fifteen seconds of it."""
    return settings.model_copy(
        update={
            "max_deliveries": 5,
            "retry_base_delay_seconds": 1.0,
            "retry_max_delay_seconds": 8.0,
            "ack_wait_seconds": 30.0,
            "outage_retry_seconds": 900.0,
        }
    )


async def test_postgres_down_for_a_minute_mid_job(servers: tuple[EmbeddedNats, EmbeddedPostgres, Settings]) -> None:  # noqa: F811
    _, postgres, settings = servers
    await run_with_restart(production_retries(settings), lambda: _bounce(postgres, 60.0), timeout=300)


async def test_dead_letters_of_the_trackers_own_consumer_fail_no_run(settings: Settings, db: Any) -> None:
    """The tracker failing to record an event is its own failure, never the course run's."""
    bus = RecordingBus()
    handler = DeadLetterHandler(Runtime("tracker", settings, Database(db), bus, broker=None))  # type: ignore[arg-type]
    advisory = {"stream_seq": 1, "consumer": "coursegen-tracker", "deliveries": 5, "id": uuid.uuid4().hex}
    delivery = FakeDelivery("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.COURSEGEN.coursegen-tracker",
                            json.dumps(advisory).encode())  # fmt: skip
    # No broker is touched (it would fail): the advisory is set aside before the message is fetched.
    assert await settle(delivery, handler.handle, retry=IN_MEMORY_RETRY, on_permanent=handler.on_permanent) == "ack"
    assert bus.published == []
