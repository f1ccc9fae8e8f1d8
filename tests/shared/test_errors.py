"""Which failures are retried: the one place that decides, and the publisher that relies on it."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
import pytest

from coursegen.shared.bus import Bus
from coursegen.shared.errors import DependencyUnavailable, PermanentError, RetryableError, classify
from coursegen.shared.events import JobRejected
from coursegen.shared.subjects import JOB_REJECTED

IN_PROCESS = nats.js.errors.APIError(code=409, err_code=10158, description="duplicate message id is in process")


@pytest.mark.parametrize(
    "exc",
    [
        IN_PROCESS,
        nats.js.errors.ServiceUnavailableError(code=503, description="JetStream system temporarily unavailable"),
        nats.errors.TimeoutError(),
        nats.errors.NoRespondersError(),
        nats.errors.ConnectionClosedError(),
        nats.errors.UnexpectedEOF(),
        asyncpg.exceptions.ConnectionDoesNotExistError("gone"),
        ConnectionResetError(),
    ],
    ids=repr,
)
def test_a_dependency_away_for_a_moment_is_retried(exc: Exception) -> None:
    assert isinstance(classify(exc), DependencyUnavailable)


@pytest.mark.parametrize(
    "exc",
    [
        nats.js.errors.BadRequestError(code=400, err_code=10058, description="stream name already in use"),
        nats.js.errors.APIError(code=409, err_code=10999, description="some other conflict"),
        asyncpg.exceptions.UndefinedTableError("no such table"),
        ValueError("bad"),
    ],
    ids=repr,
)
def test_what_another_attempt_cannot_fix_is_permanent(exc: Exception) -> None:
    judged = classify(exc)
    assert isinstance(judged, PermanentError)
    assert not isinstance(judged, RetryableError)


class BrokerInElection:
    """Answers the first publishes the way a cluster does while an earlier copy is still being agreed on."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.published: list[tuple[bytes, str, dict[str, str]]] = []

    async def publish(self, body: bytes, subject: str, *, headers: dict[str, str], **_: Any) -> None:
        if self.refusals:
            self.refusals -= 1
            raise IN_PROCESS
        self.published.append((body, subject, headers))


async def test_a_publish_whose_id_is_still_in_process_is_tried_again() -> None:
    broker = BrokerInElection(refusals=2)
    event = JobRejected(job_id=uuid.uuid4(), reason="test")
    await Bus(broker, give_up_after=10).publish(JOB_REJECTED, event)  # type: ignore[arg-type]
    assert len(broker.published) == 1
    _, subject, headers = broker.published[0]
    assert subject == JOB_REJECTED
    assert headers["Nats-Msg-Id"] == str(event.event_id)


async def test_a_refused_publish_is_not_retried_forever() -> None:
    class Refusing(BrokerInElection):
        async def publish(self, body: bytes, subject: str, *, headers: dict[str, str], **_: Any) -> None:
            raise nats.js.errors.BadRequestError(code=400, err_code=10054, description="maximum payload exceeded")

    broker = Refusing(refusals=0)
    with pytest.raises(nats.js.errors.BadRequestError):
        await Bus(broker, give_up_after=10).publish(JOB_REJECTED, JobRejected(reason="x"))  # type: ignore[arg-type]
