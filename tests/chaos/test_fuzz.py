"""Fuzzed events on every subject the services consume: no handler dies, each bad event is recorded."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from coursegen.shared.consume import RetryPolicy, settle
from coursegen.shared.events import Handoff, JobControl, JobRequested
from coursegen.shared.service import Runtime
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database
from coursegen.shared.subjects import ALL, JOB_CANCEL, JOB_REQUESTED, JOB_RESUME, SERVICES, STAGES, handoff_subject
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import service_definition

pytestmark = pytest.mark.chaos
RETRY = RetryPolicy(max_deliveries=3, base_delay=0.01, max_delay=0.01)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12,
)


def valid_examples() -> dict[str, dict[str, Any]]:
    ids = {"job_id": uuid.uuid4(), "company_id": uuid.uuid4(), "employee_id": uuid.uuid4()}
    examples: dict[str, dict[str, Any]] = {
        JOB_REQUESTED: json.loads(JobRequested(company_id=ids["company_id"], all_employees=True).model_dump_json()),
        JOB_CANCEL: json.loads(JobControl(job_id=ids["job_id"]).model_dump_json()),
        JOB_RESUME: json.loads(JobControl(job_id=ids["job_id"]).model_dump_json()),
    }
    for stage in STAGES:
        module_index = None if stage == "planner" else 0
        handoff = Handoff.create(stage=stage, from_stage="test", session_id="s", module_index=module_index, **ids)
        examples[handoff_subject(stage)] = json.loads(handoff.model_dump_json())
    return examples


SUBJECTS = sorted(valid_examples())


@st.composite
def fuzzed(draw: st.DrawFn) -> tuple[str, bytes]:
    subject = draw(st.sampled_from(SUBJECTS))
    kind = draw(st.sampled_from(["bytes", "json", "mutated"]))
    if kind == "bytes":
        return subject, draw(st.binary(max_size=200))
    if kind == "json":
        return subject, json.dumps(draw(JSON)).encode()
    event = valid_examples()[subject]
    key = draw(st.sampled_from(sorted(event)))
    event[key] = draw(JSON)
    return subject, json.dumps(event, default=str).encode()


def handler_for(subject: str, db: asyncpg.Pool[Any], bus: RecordingBus, settings: Settings, tracker: bool) -> Any:
    for name in SERVICES:
        for sub in service_definition(name).subscriptions:
            if (tracker and sub.subject == ALL) or (not tracker and sub.subject == subject):
                return sub.make_handler(Runtime(name, settings, Database(db), bus, broker=None))  # type: ignore[arg-type]
    raise AssertionError(subject)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=fuzzed())
async def test_fuzzed_events_never_crash_a_handler(
    case: tuple[str, bytes], settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    subject, body = case
    marker = uuid.uuid4().hex
    for tracker in (False, True):
        bus = RecordingBus()
        handler = handler_for(subject, db, bus, settings, tracker)
        delivery = FakeDelivery(subject, body, headers={"x-test": marker}, attempt=RETRY.max_deliveries)
        outcome = await settle(delivery, handler.handle, retry=RETRY, on_permanent=handler.on_permanent)
        assert outcome in ("ack", "term"), outcome
        if outcome == "term":
            recorded = await db.fetchval("SELECT count(*) FROM rejected_messages WHERE headers->>'x-test' = $1", marker)
            published = [s for s, _ in bus.published if s in ("coursegen.stage.failed", "coursegen.job.rejected")]
            assert recorded or published, f"{subject}: a terminated message left no trace"
        elif subject == JOB_REQUESTED and not tracker:
            assert any(s == "coursegen.job.rejected" for s, _ in bus.published), "a bad request is answered"
