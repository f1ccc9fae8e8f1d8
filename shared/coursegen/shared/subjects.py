"""Subjects, the stream and consumer names: the bus's contract, in one place."""

from __future__ import annotations

from typing import Final, Literal

STREAM: Final = "COURSEGEN"
"""The one JetStream stream, over every subject below."""
ROOT: Final = "coursegen"

JOB_REQUESTED: Final = "coursegen.job.requested"
JOB_ACCEPTED: Final = "coursegen.job.accepted"
JOB_REJECTED: Final = "coursegen.job.rejected"
JOB_COMPLETED: Final = "coursegen.job.completed"
JOB_RESUME: Final = "coursegen.job.resume"
JOB_CANCEL: Final = "coursegen.job.cancel"
STAGE_FAILED: Final = "coursegen.stage.failed"
COURSE_READY: Final = "coursegen.course.ready"
COURSE_SKIPPED: Final = "coursegen.course.skipped"
COURSE_DRAFTED: Final = "coursegen.course.drafted"
REVIEW_OUTLINE: Final = "coursegen.review.outline"
"""A reviewer approves (with edits) or rejects a waiting outline."""
REVIEW_MODULE: Final = "coursegen.review.module"
"""A reviewer approves a module of a draft, or requests changes to it."""
ALL: Final = "coursegen.>"

ADVISORY_STREAM: Final = "COURSEGEN_ADVISORIES"
"""Captures the server's advisories about messages that ran out of deliveries, so none is lost
while the tracker is down."""
MAX_DELIVERIES_ADVISORY: Final = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.COURSEGEN.>"

Stage = Literal["planner", "researcher", "content", "quality", "enhancer", "multimedia", "finalizer"]
ModuleStage = Literal["researcher", "content", "quality", "enhancer", "multimedia", "finalizer"]
"""The stages that run once per module."""
STAGES: Final[tuple[Stage, ...]] = (
    "planner",
    "researcher",
    "content",
    "quality",
    "enhancer",
    "multimedia",
    "finalizer",
)
MODULE_STAGES: Final[tuple[ModuleStage, ...]] = (
    "researcher",
    "content",
    "quality",
    "enhancer",
    "multimedia",
    "finalizer",
)
"""The stages that run once per module (after the planner splits the course)."""

SERVICES: Final = ("coordinator", *STAGES, "tracker")


def handoff_subject(stage: str) -> str:
    """``coursegen.handoff.<stage>``."""
    return f"coursegen.handoff.{stage}"


def durable_name(service: str) -> str:
    """The durable pull consumer a service's replicas share."""
    return f"coursegen-{service}"
