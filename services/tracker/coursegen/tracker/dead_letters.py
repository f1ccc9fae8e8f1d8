"""The dead-letter path: a message that ran out of deliveries fails its course run, loudly.

A stage dead-letters a message itself on its last delivery. When the process
died instead (killed, out of memory) or hung past ``ack_wait`` on that last
delivery, the server publishes a MAX_DELIVERIES advisory; it is kept in its own
stream and handled here: the original message is fetched by its sequence, its
course run is marked failed with the stage, the error and the attempt count,
and ``stage.failed`` says so. The job then ends ``completed_with_errors``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from nats.js.errors import NotFoundError
from pydantic import ValidationError

from coursegen.shared.consume import Delivery
from coursegen.shared.errors import InvalidEvent, PermanentError
from coursegen.shared.events import Handoff, JobRejected, StageFailed, derived_id, loose_ids
from coursegen.shared.service import Runtime
from coursegen.shared.store.jobs import job_for_request
from coursegen.shared.store.runs import fail_run
from coursegen.shared.subjects import (
    JOB_REJECTED,
    JOB_REQUESTED,
    STAGE_FAILED,
    STAGES,
    STREAM,
    durable_name,
    handoff_subject,
)

log = logging.getLogger("coursegen.tracker")

DEAD_LETTER_CONSUMERS = frozenset(
    {*(durable_name(stage) for stage in STAGES), durable_name("coordinator") + "-requests"}
)
"""The consumers whose dead letters fail a course run (or answer a job request)."""
WORK_SUBJECTS = frozenset({*(handoff_subject(stage) for stage in STAGES), JOB_REQUESTED})
"""A consumer filtered on one of these does a stage's (or the coordinator's) work, whatever its name."""


class DeadLetterHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def handle(self, delivery: Delivery) -> None:
        try:
            advisory = json.loads(delivery.body)
            sequence = int(advisory["stream_seq"])
            consumer = str(advisory.get("consumer", "?"))
            deliveries = int(advisory.get("deliveries", 0))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidEvent(f"not a MAX_DELIVERIES advisory: {exc}") from exc
        js = self.rt.broker.connection.jetstream() if self.rt.broker is not None else None
        if not await self._does_stage_work(js, consumer):
            # Only a stage's or the coordinator's messages fail course runs. The tracker's own
            # consumer running out of deliveries never does: it failed to record, not the run.
            log.error("consumer %s ran out of deliveries on message %d; recorded, no run failed", consumer, sequence)
            return
        assert js is not None
        try:
            original = await js.get_msg(STREAM, sequence)
        except NotFoundError:
            log.warning("dead letter %d of %s is gone from the stream (aged out)", sequence, consumer)
            return
        subject = original.subject or "?"
        reason = (
            f"no delivery of {subject} to {consumer} succeeded after {deliveries} attempts "
            "(the worker died or did not answer in time)"
        )
        if subject == JOB_REQUESTED:
            await self._reject_request(original.data or b"", reason)
            return
        try:
            handoff = Handoff.model_validate_json(original.data or b"")
        except ValidationError:
            log.warning("dead letter %d on %s is not a handoff; recorded only", sequence, subject)
            return
        async with self.rt.db.connection() as conn:
            failed = await fail_run(
                conn, handoff.session_id, epoch=handoff.epoch, stage=handoff.stage, kind="max_deliveries",
                message=reason, attempts=deliveries,
            )  # fmt: skip
        if failed:
            log.error("course run %s failed at %s: %s", handoff.session_id, handoff.stage, reason)
        await self.rt.bus.publish(
            STAGE_FAILED,
            StageFailed.about(
                handoff,
                event_id=derived_id("dead-letter", STREAM, sequence),
                stage=handoff.stage,
                kind="max_deliveries",
                message=reason,
                attempt=deliveries,
                subject=subject,
                source="tracker",
            ),
        )

    @staticmethod
    async def _does_stage_work(js: Any, consumer: str) -> bool:
        if consumer in DEAD_LETTER_CONSUMERS:
            return True
        if js is None:
            return False
        try:
            info = await js.consumer_info(STREAM, consumer)
        except NotFoundError:
            return False
        filters = {info.config.filter_subject, *(info.config.filter_subjects or [])} - {None}
        return bool(filters) and filters <= WORK_SUBJECTS

    async def _reject_request(self, body: bytes, reason: str) -> None:
        ids = loose_ids(body)
        request_id, company_id = ids.get("event_id"), ids.get("company_id")
        if request_id is not None:
            async with self.rt.db.connection() as conn:
                if await job_for_request(conn, request_id) is not None:
                    # The coordinator created the job, then died before it acknowledged the request: the job
                    # stands (the stall watcher drives runs that never started), so the request is not refused.
                    log.error("job request %s ran out of deliveries after its job was created; not rejected",
                              request_id)  # fmt: skip
                    return
        await self.rt.bus.publish(
            JOB_REJECTED,
            JobRejected(
                event_id=derived_id("dead-letter-request", str(request_id) if request_id else reason),
                request_event_id=request_id,
                company_id=company_id,
                source="tracker",
                reason=f"internal error: {reason}",
            ),
        )

    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None:
        log.error("could not handle an advisory: %s", error)
