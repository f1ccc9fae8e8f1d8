"""The review flow in the HTTP API: waiting outlines, courses and their versions, decisions, publishing, the
audit trail. The same domain functions and review events as the app's pages; the caller's company only."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from coursegen.gateway import commands
from coursegen.gateway.api import Limit, Offset, Page
from coursegen.gateway.auth import ApiCaller, Caller, api_caller
from coursegen.gateway.inputs import Input
from coursegen.gateway.problems import PROBLEM_RESPONSES, Problem, not_found
from coursegen.gateway.review_pages import outline_of
from coursegen.gateway.state import state
from coursegen.shared.events import ModuleReview, OutlineModule, OutlineReview
from coursegen.shared.review import actions
from coursegen.shared.review.claims import SECTIONS
from coursegen.shared.review.diff import VersionDiff
from coursegen.shared.store import gateway_reads as reads
from coursegen.shared.store import versions
from coursegen.shared.store.reviews import AuditEntry
from coursegen.shared.store.runs import RunStatus

router = APIRouter(prefix="/api/v1", dependencies=[Depends(api_caller)], responses=PROBLEM_RESPONSES)

SessionId = Annotated[str, Path(min_length=1, max_length=200, description="The course run (one employee, one job).")]
CourseId = Annotated[uuid.UUID, Path(description="The course (one per employee, across its versions).")]
VersionNo = Annotated[int, Path(ge=1, le=1_000_000, description="The version number, from 1.")]
ModuleNo = Annotated[int, Path(ge=0, le=1000, description="The module's index, from 0.")]


class Decision(Input):
    reviewer: str = Field(default="", max_length=200)
    """Who decides, for the audit trail (with an API key; a signed-in user is recorded by email)."""
    comment: str = Field(default="", max_length=8000)
    """Why; required to reject an outline or to request changes: it is what the agent works from."""


class OutlineDecision(Decision):
    decision: Literal["approve", "reject"]
    modules: list[OutlineModule] | None = Field(default=None, max_length=50)
    """On approval, the outline as edited (reordered, removed, added, objectives changed); absent keeps the plan."""


class ModuleDecision(Decision):
    decision: Literal["approve", "request_changes"]


class PublishIn(Decision):
    override_reason: str | None = Field(default=None, max_length=2000)
    """Required when the version has flagged claims: why it is published all the same (recorded)."""


class EditIn(Decision):
    module_index: int = Field(ge=0, le=1000)
    section: Literal["introduction", "core_content", "practical_applications", "case_studies", "assessments"]
    text: str = Field(min_length=1, max_length=200_000)


class ReviewAccepted(BaseModel):
    session_id: str
    decision: str
    event_id: uuid.UUID
    """The review event published for it; the coordinator applies it."""


class OutlineOut(BaseModel):
    session_id: str
    job_id: uuid.UUID
    status: str
    waiting: bool
    """Waiting for a person's decision."""
    course_title: str
    summary: str
    revision: int
    modules: list[dict[str, Any]]


class VersionOut(versions.VersionSummary):
    course: dict[str, Any]
    flags: list[versions.ClaimFlag]


def _actor(caller: Caller, decision: Decision) -> str:
    if caller.user is not None:
        return caller.user.email
    return f"api key ({decision.reviewer.strip()})" if decision.reviewer.strip() else "api key"


def _refused(exc: actions.Refused, status: int = 409) -> Problem:
    return Problem(status, str(exc), title="Refused")


@router.get("/outlines", response_model=list[reads.OutlineWaiting], tags=["reviews"])
async def list_outlines(request: Request, caller: ApiCaller) -> list[reads.OutlineWaiting]:
    """Course runs whose outline waits for a person's approval, oldest first."""
    async with state(request).db.connection(caller.company_id) as conn:
        return await reads.outlines_waiting(conn, caller.company_id)


@router.get("/outlines/{session_id}", response_model=OutlineOut, tags=["reviews"])
async def get_outline(request: Request, caller: ApiCaller, session_id: SessionId) -> OutlineOut:
    run, plan = await outline_of(request, caller, session_id)
    return OutlineOut(
        session_id=session_id,
        job_id=run.job_id,
        status=run.status,
        waiting=run.status is RunStatus.AWAITING_OUTLINE_REVIEW and not plan.approved,
        course_title=plan.course_title,
        summary=plan.summary,
        revision=plan.revision,
        modules=plan.modules,
    )


@router.post("/outlines/{session_id}/decision", status_code=202, response_model=ReviewAccepted, tags=["reviews"])
async def decide_outline(
    request: Request, caller: ApiCaller, session_id: SessionId, body: OutlineDecision
) -> JSONResponse:
    """Approve the waiting outline (optionally edited): the run continues from the researcher; or reject it with a
    comment: the planner plans again from it."""
    run, _ = await outline_of(request, caller, session_id)
    if run.status is not RunStatus.AWAITING_OUTLINE_REVIEW:
        raise Problem(409, f"the outline is not waiting for review: the run is {run.status}", title="Conflict")
    if body.decision == "reject" and not body.comment:
        raise Problem(422, "a rejection needs a comment: the planner plans again from it", title="Invalid request")
    if body.modules is not None and not body.modules:
        raise Problem(422, "an approved outline keeps at least one module", title="Invalid request")
    command = OutlineReview(
        company_id=caller.company_id,
        session_id=session_id,
        job_id=run.job_id,
        reviewer=_actor(caller, body),
        decision=body.decision,
        modules=body.modules,
        comment=body.comment,
        source="gateway",
    )
    await commands.review(state(request).js, command)
    accepted = ReviewAccepted(session_id=session_id, decision=body.decision, event_id=command.event_id)
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


@router.get("/reviews/courses", response_model=Page[versions.CourseListing], tags=["reviews"])
async def list_review_courses(request: Request, caller: ApiCaller, limit: Limit = 50, offset: Offset = 0) -> Page[Any]:
    """The company's courses: each one's newest version, its published one, and the newest one's flagged claims."""
    async with state(request).db.connection(caller.company_id) as conn:
        items, total = await versions.list_courses(conn, caller.company_id, limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/reviews/courses/{course_id}/versions", response_model=list[versions.VersionSummary], tags=["reviews"])
async def list_course_versions(request: Request, caller: ApiCaller, course_id: CourseId) -> list[Any]:
    return await actions.list_versions(state(request).db, caller.company_id, course_id)


@router.get("/reviews/courses/{course_id}/versions/{version}", response_model=VersionOut, tags=["reviews"])
async def get_course_version(
    request: Request, caller: ApiCaller, course_id: CourseId, version: VersionNo
) -> VersionOut:
    """One version: its course JSON and its flagged claims."""
    db = state(request).db
    found = await actions.get_version(db, caller.company_id, course_id, version)
    flags = await actions.claim_flags(db, caller.company_id, course_id, version)
    return VersionOut(**found.model_dump(exclude={"markdown", "module_fingerprints"}), flags=flags)


@router.post(
    "/reviews/courses/{course_id}/modules/{module_index}/decision",
    status_code=202,
    response_model=ReviewAccepted,
    tags=["reviews"],
)
async def decide_module(
    request: Request, caller: ApiCaller, course_id: CourseId, module_index: ModuleNo, body: ModuleDecision
) -> JSONResponse:
    """Approve a module of the newest version, or request changes: that module alone is rewritten from the
    comment, and the finalizer assembles a new draft version."""
    db = state(request).db
    listed = await actions.list_versions(db, caller.company_id, course_id)
    if not listed:
        raise not_found("course")
    latest = await actions.get_version(db, caller.company_id, course_id, listed[-1].version)
    if module_index >= len(latest.course.get("modules", [])):
        raise not_found("module")
    if body.decision == "request_changes" and not body.comment:
        raise Problem(422, "a change request needs a comment: the writer works from it", title="Invalid request")
    try:
        command = ModuleReview(
            company_id=caller.company_id,
            session_id=latest.session_id,
            module_index=module_index,
            reviewer=_actor(caller, body),
            decision=body.decision,
            comment=body.comment,
            source="gateway",
        )
    except ValidationError as exc:
        raise Problem(422, str(exc), title="Invalid request") from None
    await commands.review(state(request).js, command)
    accepted = ReviewAccepted(session_id=latest.session_id, decision=body.decision, event_id=command.event_id)
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


@router.post(
    "/reviews/courses/{course_id}/versions/{version}/edits",
    status_code=201,
    response_model=versions.VersionSummary,
    tags=["reviews"],
)
async def edit_version(
    request: Request, caller: ApiCaller, course_id: CourseId, version: VersionNo, body: EditIn
) -> JSONResponse:
    """A person's edit of one section: a new draft version based on this one, its claims checked again."""
    assert body.section in SECTIONS
    try:
        created = await actions.edit_section(
            state(request).db,
            caller.company_id,
            course_id,
            base_version=version,
            module_index=body.module_index,
            section=body.section,
            text=body.text,
            actor=_actor(caller, body),
        )
    except actions.Refused as exc:
        raise _refused(exc, 422) from None
    summary = versions.VersionSummary.model_validate(created.model_dump())
    return JSONResponse(summary.model_dump(mode="json"), status_code=201)


@router.post(
    "/reviews/courses/{course_id}/versions/{version}/publish",
    response_model=versions.VersionSummary,
    tags=["reviews"],
)
async def publish_version(
    request: Request, caller: ApiCaller, course_id: CourseId, version: VersionNo, body: PublishIn
) -> versions.VersionSummary:
    """Publish a draft: learners see it from now on. With flagged claims, only with ``override_reason``."""
    try:
        return await actions.publish_version(
            state(request).db,
            caller.company_id,
            course_id,
            version,
            actor=_actor(caller, body),
            override_reason=body.override_reason,
        )
    except actions.Refused as exc:
        raise _refused(exc) from None


@router.get("/reviews/courses/{course_id}/compare", response_model=VersionDiff, tags=["reviews"])
async def compare_versions(
    request: Request,
    caller: ApiCaller,
    course_id: CourseId,
    before: Annotated[int, Query(ge=1, le=1_000_000)],
    after: Annotated[int, Query(ge=1, le=1_000_000)],
) -> VersionDiff:
    """Two versions side by side: each module's sections, quiz and diagram."""
    return await actions.compare(state(request).db, caller.company_id, course_id, before, after)


@router.get(
    "/reviews/courses/{course_id}/audit",
    response_model=list[AuditEntry],
    tags=["reviews"],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The audit trail"}},
)
async def course_audit(
    request: Request,
    caller: ApiCaller,
    course_id: CourseId,
    format: Annotated[Literal["json", "csv"], Query(description="json, or csv for a spreadsheet")] = "json",
) -> Response:
    """Who approved, edited, rejected, published and overrode what on the course, and when; oldest first."""
    entries = await actions.audit_trail(state(request).db, caller.company_id, course_id)
    if format == "csv":
        return Response(actions.audit_csv(entries), media_type="text/csv; charset=utf-8")
    return JSONResponse([e.model_dump(mode="json") for e in entries])
