"""Commands as events: the gateway asks the pipeline for work exactly as any other client would."""

from __future__ import annotations

import uuid

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from coursegen.gateway.problems import Problem
from coursegen.shared.events import Event, JobControl, JobRequested, ModuleReview, OutlineReview
from coursegen.shared.subjects import JOB_CANCEL, JOB_REQUESTED, JOB_RESUME, REVIEW_MODULE, REVIEW_OUTLINE, STREAM

PUBLISH_TIMEOUT = 10.0


async def publish(js: JetStreamContext, subject: str, event: Event) -> None:
    """Publish and wait for JetStream's ack; the event id is the ``Nats-Msg-Id`` (a retried request is one event)."""
    try:
        await js.publish(
            subject,
            event.model_dump_json().encode(),
            timeout=PUBLISH_TIMEOUT,
            stream=STREAM,
            headers={"Nats-Msg-Id": str(event.event_id)},
        )
    except (nats.errors.Error, nats.js.errors.Error, TimeoutError, OSError) as exc:
        raise Problem(
            503,
            f"the message bus did not take the request ({type(exc).__name__}); try again shortly",
            title="Service Unavailable",
            headers={"Retry-After": "5"},
        ) from exc


async def request_job(
    js: JetStreamContext,
    *,
    company_id: uuid.UUID,
    employee_ids: list[uuid.UUID] | None,
    token_budget: int | None,
    requested_by: uuid.UUID | None,
    event_id: uuid.UUID | None = None,
    review_outline: bool = False,
) -> JobRequested:
    """``coursegen.job.requested``; ``employee_ids=None`` asks for every active employee."""
    event = JobRequested(
        event_id=event_id or uuid.uuid4(),
        job_id=uuid.uuid4(),
        company_id=company_id,
        employee_ids=employee_ids or [],
        all_employees=employee_ids is None,
        token_budget=token_budget,
        requested_by=requested_by,
        review_outline=review_outline,
        source="gateway",
    )
    await publish(js, JOB_REQUESTED, event)
    return event


async def control_job(
    js: JetStreamContext, *, company_id: uuid.UUID, job_id: uuid.UUID, action: str, reason: str
) -> None:
    """``coursegen.job.resume`` or ``coursegen.job.cancel``, naming the caller's company (checked against the job)."""
    subject = JOB_RESUME if action == "resume" else JOB_CANCEL
    await publish(js, subject, JobControl(job_id=job_id, company_id=company_id, reason=reason, source="gateway"))


async def review(js: JetStreamContext, command: OutlineReview | ModuleReview) -> None:
    """``coursegen.review.outline`` or ``coursegen.review.module``: the coordinator applies it, checked against
    the course run's company."""
    await publish(js, REVIEW_OUTLINE if isinstance(command, OutlineReview) else REVIEW_MODULE, command)
