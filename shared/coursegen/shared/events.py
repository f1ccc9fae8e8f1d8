"""The events of the pipeline: a public contract.

Every message on the bus is the JSON of one of these models. Another team may
publish ``coursegen.job.requested`` from Go or Node, so the fields are plain
JSON types, documented here and in the AsyncAPI document FastStream renders.
Trace context travels in NATS headers (W3C ``traceparent``), never in the body.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from coursegen.shared.subjects import ModuleStage, Stage

# Namespace for deterministic event ids: the same unit of work always gets the
# same id, which JetStream uses for de-duplication and the tracker for "once".
MAX_TOKEN_BUDGET = 2**63 - 1
"""Budgets and token counts are bigint in the store."""

EVENT_NAMESPACE = uuid.UUID("6f1c8f0e-2c7b-4c55-9a57-0c6f3e0c0de5")


def derived_id(*parts: object) -> uuid.UUID:
    """A deterministic event id: the same outcome, re-published after a redelivery, is the same event."""
    return uuid.uuid5(EVENT_NAMESPACE, ":".join(str(p) for p in parts))


def loose_ids(body: bytes) -> dict[str, Any]:
    """The envelope ids a message carries even when it is not a valid event, to attribute it:
    each of ``event_id``, ``job_id``, ``company_id``, ``employee_id`` that parses as a UUID, and
    ``session_id`` and ``module_index`` where they have the right type."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    ids: dict[str, Any] = {}
    for key in ("event_id", "job_id", "company_id", "employee_id"):
        try:
            ids[key] = uuid.UUID(str(data[key]))
        except (KeyError, ValueError):
            continue
    if isinstance(data.get("session_id"), str):
        ids["session_id"] = data["session_id"]
    if isinstance(data.get("module_index"), int) and not isinstance(data["module_index"], bool):
        ids["module_index"] = data["module_index"]
    return ids


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """The envelope every event shares."""

    # Attribute docstrings become field descriptions in the JSON schema: the contract documents itself.
    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    """Unique id of this event; also sent as the ``Nats-Msg-Id`` header."""
    job_id: uuid.UUID | None = None
    """The job this event belongs to (absent only on a request that names none)."""
    company_id: uuid.UUID | None = None
    """The company whose employees the job is for."""
    occurred_at: datetime = Field(default_factory=_now)
    """When the producer emitted the event (UTC)."""
    source: str = "client"
    """The service (or client) that published the event."""


class JobRequested(Event):
    """``coursegen.job.requested``: generate courses for these employees."""

    company_id: uuid.UUID
    """The company whose employees get courses (required)."""
    employee_ids: list[uuid.UUID] = Field(default_factory=list)
    """The employees to generate a course for. Empty with ``all_employees`` false is rejected."""
    all_employees: bool = False
    """Generate for every active employee of the company instead of a list."""
    requested_by: uuid.UUID | None = None
    """The user who asked, when there is one."""
    token_budget: int | None = Field(default=None, gt=0, le=MAX_TOKEN_BUDGET)
    """Most tokens the whole job may spend (at most 2^63-1); the setting's default when absent."""
    review_outline: bool = False
    """Each course run waits after planning until a person approves (or rejects) its outline."""


class JobAccepted(Event):
    """``coursegen.job.accepted``: the request was valid; the job exists.

    It carries counts, never lists: a job of any size fits in one event. The job's
    course runs are in the store (and in the API).
    """

    job_id: uuid.UUID
    request_event_id: uuid.UUID
    employees: int
    """How many course runs the job has: one per employee."""


class JobRejected(Event):
    """``coursegen.job.rejected``: the request was refused; ``reason`` says why."""

    request_event_id: uuid.UUID | None = None
    reason: str


class CourseRunEvent(Event):
    """Events about one course run (one employee in one job)."""

    job_id: uuid.UUID
    employee_id: uuid.UUID
    session_id: str
    module_index: int | None = None
    """Which module of the course, for per-module stages; absent for the planner."""
    revision: int = 0
    """Content revision: 0 for the first draft, raised by every quality loop."""
    epoch: int = 0
    """Raised by resume, so a re-driven handoff is not taken for a duplicate."""
    round: int = Field(default=0, ge=0)
    """Review round: 0 for the generated course, raised by each reviewer's rejection or change request."""


class RunIds(TypedDict):
    """A course run's envelope fields, as the events a stage emits about it carry them."""

    job_id: uuid.UUID
    company_id: uuid.UUID | None
    employee_id: uuid.UUID
    session_id: str
    epoch: int
    source: str


class Handoff(CourseRunEvent):
    """``coursegen.handoff.<stage>``: do your work for this course run (and module).

    The event carries references only; the stage reads its inputs from the store.
    A stage takes its own kind: ``CourseHandoff`` (the planner) or ``ModuleHandoff``.
    """

    stage: Stage
    """The stage that should do the work (matches the subject)."""
    from_stage: str
    """The stage (or coordinator) that handed off."""

    @classmethod
    def create(
        cls,
        *,
        stage: Stage,
        from_stage: str,
        job_id: uuid.UUID,
        company_id: uuid.UUID | None,
        employee_id: uuid.UUID,
        session_id: str,
        module_index: int | None = None,
        revision: int = 0,
        epoch: int = 0,
        round: int = 0,
    ) -> Handoff:
        key = handoff_key(session_id, stage, module_index, revision, epoch, round)
        kind: type[Handoff] = CourseHandoff if stage == "planner" else ModuleHandoff
        return kind(
            event_id=derived_id(key),
            stage=stage,
            from_stage=from_stage,
            source=from_stage,
            job_id=job_id,
            company_id=company_id,
            employee_id=employee_id,
            session_id=session_id,
            module_index=module_index,
            revision=revision,
            epoch=epoch,
            round=round,
        )

    def next(
        self, stage: Stage, *, module_index: int | None = None, revision: int | None = None, round: int | None = None
    ) -> Handoff:
        """The handoff this stage passes on to ``stage`` for the same course run (epoch and review round)."""
        return Handoff.create(
            stage=stage,
            from_stage=self.stage,
            job_id=self.job_id,
            company_id=self.company_id,
            employee_id=self.employee_id,
            session_id=self.session_id,
            module_index=self.module_index if module_index is None else module_index,
            revision=self.revision if revision is None else revision,
            epoch=self.epoch,
            round=self.round if round is None else round,
        )

    def run_ids(self) -> RunIds:
        """The envelope fields of this course run, for the events a stage emits about it."""
        return {
            "job_id": self.job_id,
            "company_id": self.company_id,
            "employee_id": self.employee_id,
            "session_id": self.session_id,
            "epoch": self.epoch,
            "source": self.stage,
        }

    @property
    def msg_id(self) -> str:
        return handoff_key(self.session_id, self.stage, self.module_index, self.revision, self.epoch, self.round)


class CourseHandoff(Handoff):
    """``coursegen.handoff.planner``: plan this course run."""

    stage: Literal["planner"] = "planner"
    module_index: None = None
    """The planner works on the whole course."""


class ModuleHandoff(Handoff):
    """``coursegen.handoff.<module stage>``: work on one module of this course run."""

    stage: ModuleStage
    module_index: int = Field(ge=0)
    """Which module of the course (from 0)."""


def handoff_key(
    session_id: str, stage: str, module_index: int | None, revision: int, epoch: int = 0, round: int = 0
) -> str:
    """The deterministic ``Nats-Msg-Id`` of a handoff: ``{session}:{stage}:{module}:{revision}``
    (with ``:e{epoch}`` after a resume and ``:r{round}`` in a review round)."""
    module = "-" if module_index is None else str(module_index)
    key = f"{session_id}:{stage}:{module}:{revision}"
    if epoch:
        key = f"{key}:e{epoch}"
    return key if round == 0 else f"{key}:r{round}"


FailureKind = Literal[
    "invalid_event",
    "tenant_mismatch",
    "limit_exceeded",
    "invalid_data",
    "budget_exceeded",
    "guardrail",
    "agent_error",
    "max_deliveries",
    "internal",
]


class StageFailed(Event):
    """``coursegen.stage.failed``: a permanent failure of one stage."""

    stage: str
    kind: FailureKind
    message: str
    attempt: int = 1
    employee_id: uuid.UUID | None = None
    session_id: str | None = None
    module_index: int | None = None
    revision: int | None = None
    subject: str | None = None
    """The subject of the message that failed."""

    @classmethod
    def about(
        cls, handoff: Handoff, *, event_id: uuid.UUID, stage: str, kind: FailureKind, message: str, attempt: int,
        subject: str, source: str,
    ) -> StageFailed:  # fmt: skip
        """The failure of a handoff's work, attributed to its course run."""
        return cls(
            event_id=event_id,
            stage=stage,
            kind=kind,
            message=message,
            attempt=attempt,
            subject=subject,
            source=source,
            job_id=handoff.job_id,
            company_id=handoff.company_id,
            employee_id=handoff.employee_id,
            session_id=handoff.session_id,
            module_index=handoff.module_index,
            revision=handoff.revision,
        )


class CourseReady(CourseRunEvent):
    """``coursegen.course.ready``: the course is assembled."""

    course_id: uuid.UUID
    title: str
    total_modules: int


class CourseSkipped(CourseRunEvent):
    """``coursegen.course.skipped``: nothing to teach (the employee has no skill gap)."""

    reason: str


class JobCompleted(Event):
    """``coursegen.job.completed``: every course run of the job is terminal."""

    job_id: uuid.UUID
    status: Literal["completed", "completed_with_errors", "cancelled"]
    successful_courses: int
    failed_courses: int
    failed_employee_ids: list[uuid.UUID] = Field(default_factory=list)


class JobControl(Event):
    """``coursegen.job.resume`` / ``coursegen.job.cancel``."""

    job_id: uuid.UUID
    reason: str = ""


MAX_OUTLINE_MODULES = 30
"""An edited outline has at most this many modules: a review command stays a small event."""


class OutlineModule(BaseModel):
    """One module of an outline as a reviewer edited it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    title: str = Field(min_length=1, max_length=300)
    skills: list[str] = Field(min_length=1, max_length=20)
    """The skill gaps the module closes."""
    objectives: list[str] = Field(min_length=1, max_length=20)
    """What the learner can do after the module."""
    duration_weeks: int = Field(default=1, ge=1, le=12)
    research_queries: list[str] = Field(default_factory=list, max_length=20)
    """What the researcher looks up; the skills when empty."""
    priority: Literal["critical", "high", "medium", "low"] = "medium"


class ReviewCommand(Event):
    """A person's decision on a course run, checked against the run's stored company."""

    company_id: uuid.UUID
    """The reviewer's company (required): a course run of another company is refused, and nothing said about it."""
    session_id: str = Field(min_length=1, max_length=200)
    """The course run (one employee in one job)."""
    reviewer: str = Field(min_length=1, max_length=200)
    """Who decided: a user id or name, recorded in the audit trail."""
    comment: str = Field(default="", max_length=8000)
    """Why; for a rejection or a change request, the input the agent works from (required there)."""


class OutlineReview(ReviewCommand):
    """``coursegen.review.outline``: approve a waiting outline (optionally edited) or reject it with a comment.

    Approval continues the run from the researcher with the (edited) modules; a rejection
    re-plans, the comment being the planner's input.
    """

    decision: Literal["approve", "reject"]
    modules: list[OutlineModule] | None = Field(default=None, max_length=MAX_OUTLINE_MODULES)
    """On approval: the outline as edited (reordered, removed, added, objectives changed); absent keeps the plan."""


class ModuleReview(ReviewCommand):
    """``coursegen.review.module``: approve one module of a course's draft, or request changes with a comment.

    A change request sends that module (only) through content, quality, enhancer and
    multimedia again, and the finalizer assembles a new draft version.
    """

    module_index: int = Field(ge=0)
    decision: Literal["approve", "request_changes"]


class CourseDrafted(CourseRunEvent):
    """``coursegen.course.drafted``: a new draft version of a course was assembled."""

    course_id: uuid.UUID
    version: int
    origin: Literal["generated", "change_request", "direct_edit"]
