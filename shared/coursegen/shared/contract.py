"""The events as an AsyncAPI document: the contract for teams that publish or consume from elsewhere.

Built from declarations only (nothing connects): each subject with the
pydantic model of its payload and what it means.
"""

from __future__ import annotations

import json
from typing import Any

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel

from coursegen.shared import events, subjects

SUBJECTS: list[tuple[str, type[BaseModel], str]] = [
    (subjects.JOB_REQUESTED, events.JobRequested, "Any client: generate courses for these employees of this company."),
    (subjects.JOB_ACCEPTED, events.JobAccepted, "Coordinator: the request is valid; the job and its runs exist."),
    (subjects.JOB_REJECTED, events.JobRejected, "Coordinator: the request is refused; `reason` says why."),
    (subjects.JOB_RESUME, events.JobControl, "Any client: continue the job's failed and stalled course runs."),
    (subjects.JOB_CANCEL, events.JobControl, "Any client: stop the job; finished work stays."),
    *[
        (subjects.handoff_subject(stage), events.Handoff, f"Do the {stage}'s work for this course run (and module).")
        for stage in subjects.STAGES
    ],
    (subjects.STAGE_FAILED, events.StageFailed, "A stage, or the dead-letter path: a permanent failure."),
    (subjects.COURSE_READY, events.CourseReady, "Finalizer: the course is assembled."),
    (subjects.COURSE_SKIPPED, events.CourseSkipped, "Planner: no course, the employee has no skill gap."),
    (subjects.JOB_COMPLETED, events.JobCompleted, "Tracker: every course run of the job has ended."),
    (
        subjects.REVIEW_OUTLINE,
        events.OutlineReview,
        "Any client: approve a waiting outline (optionally edited), or reject it with a comment to re-plan.",
    ),
    (
        subjects.REVIEW_MODULE,
        events.ModuleReview,
        "Any client: approve a module of a draft, or request changes (that module alone is redone).",
    ),
    (subjects.COURSE_DRAFTED, events.CourseDrafted, "Finalizer: a new draft version of the course exists."),
]


def asyncapi() -> dict[str, Any]:
    broker = NatsBroker()
    for subject, model, description in SUBJECTS:
        broker.publisher(subject, schema=model, title=subject, description=description)
    spec = AsyncAPI(
        broker,
        title="coursegen events",
        version="1",
        description="JSON events on NATS JetStream (stream COURSEGEN over coursegen.>). Every event carries "
        "`event_id`, also its `Nats-Msg-Id` header, except handoffs, whose header is their deterministic key "
        "`{session}:{stage}:{module}:{revision}`. Trace context travels in the `traceparent` header.",
        schema_version="3.0.0",
    )
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    return document
