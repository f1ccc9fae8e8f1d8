"""Reviewers' commands on course runs: what the coordinator does with ``review.outline`` and ``review.module``.

Each command names its company; it is checked against the stored run's company,
and another company's run is refused exactly like one that does not exist. The
state change, the stored request (a re-plan's or change request's comment) and
the audit entry commit together; the handoffs that resume the run are published
after the commit with deterministic ids, so a redelivered command re-publishes
the same handoffs and changes nothing else.
"""

from __future__ import annotations

import logging

from coursegen.shared.bus import Bus
from coursegen.shared.errors import InvalidEvent, TenantMismatch
from coursegen.shared.events import Handoff, ModuleReview, OutlineReview, ReviewCommand
from coursegen.shared.store import Connection, Database, content, plans, reviews, runs, versions
from coursegen.shared.store.reviews import RequestKind
from coursegen.shared.store.runs import CourseRun, RunStatus
from coursegen.shared.subjects import Stage, handoff_subject

log = logging.getLogger("coursegen.review")


async def _run_of(conn: Connection, cmd: ReviewCommand) -> CourseRun:
    run = await runs.get_run(conn, cmd.session_id, for_update=True)
    if run is None or run.company_id != cmd.company_id or (cmd.job_id is not None and cmd.job_id != run.job_id):
        # Another company's run does not exist, and the answer does not say whether it does.
        raise TenantMismatch(f"company {cmd.company_id} has no course run {cmd.session_id}")
    return run


def _handoff(
    run: CourseRun, stage: Stage, *, round: int, module_index: int | None = None, revision: int = 0
) -> Handoff:
    return Handoff.create(
        stage=stage,
        from_stage="coordinator",
        job_id=run.job_id,
        company_id=run.company_id,
        employee_id=run.employee_id,
        session_id=run.session_id,
        module_index=module_index,
        revision=revision,
        epoch=run.epoch,
        round=round,
    )


def _edited_modules(cmd: OutlineReview) -> list[dict[str, object]] | None:
    if cmd.modules is None:
        return None
    if not cmd.modules:
        raise InvalidEvent("an approved outline needs at least one module")
    return [
        {
            **m.model_dump(),
            "research_queries": m.research_queries or list(m.skills),
            "prerequisites": [i - 1] if i > 0 else [],
        }
        for i, m in enumerate(cmd.modules)
    ]


async def review_outline(db: Database, bus: Bus, cmd: OutlineReview) -> list[Handoff]:
    """Approve (with the edited outline) or reject (re-plan with the comment) a waiting outline."""
    async with db.transaction() as conn:
        run = await _run_of(conn, cmd)
        if cmd.decision == "reject":
            handoffs = await _reject_outline(conn, run, cmd)
        else:
            handoffs = await _approve_outline(conn, run, cmd)
    for h in handoffs:
        await bus.publish(handoff_subject(h.stage), h)
    return handoffs


async def _reject_outline(conn: Connection, run: CourseRun, cmd: OutlineReview) -> list[Handoff]:
    request = await reviews.request_for_command(conn, cmd.event_id)
    if request is None:
        if not cmd.comment.strip():
            raise InvalidEvent("a rejected outline needs a comment: it is what the planner plans from")
        if run.status is not RunStatus.AWAITING_OUTLINE_REVIEW:
            raise InvalidEvent(f"course run {run.session_id} is {run.status}, not waiting for its outline's review")
        request = await reviews.open_request(
            conn,
            session_id=run.session_id,
            company_id=run.company_id,
            kind=RequestKind.REPLAN,
            comment=cmd.comment,
            reviewer=cmd.reviewer,
            command_event_id=cmd.event_id,
        )
        await runs.answer_outline_review(conn, run.session_id, stage="planner", modules=None)
        await reviews.record_action(
            conn,
            company_id=run.company_id,
            session_id=run.session_id,
            actor=cmd.reviewer,
            action="outline.rejected",
            details={"comment": cmd.comment, "round": request.round, "event_id": str(cmd.event_id)},
        )
    return [_handoff(run, "planner", round=request.round)]


async def _approve_outline(conn: Connection, run: CourseRun, cmd: OutlineReview) -> list[Handoff]:
    state = await plans.plan_state(conn, run.session_id)
    if state is None:
        raise InvalidEvent(f"course run {run.session_id} has no outline yet")
    revision, approved = state
    if run.status is RunStatus.AWAITING_OUTLINE_REVIEW and not approved:
        modules = _edited_modules(cmd)
        total = await plans.approve_outline(conn, run.session_id, modules=modules, approved_by=cmd.reviewer)
        await runs.answer_outline_review(conn, run.session_id, stage="researcher", modules=total)
        await reviews.record_action(
            conn,
            company_id=run.company_id,
            session_id=run.session_id,
            actor=cmd.reviewer,
            action="outline.approved",
            details={
                "edited": modules is not None,
                "modules": [m["title"] for m in modules] if modules else None,
                "comment": cmd.comment,
                "plan_revision": revision,
                "event_id": str(cmd.event_id),
            },
        )
    elif not approved:
        raise InvalidEvent(f"course run {run.session_id} is {run.status}, not waiting for its outline's review")
    # Approved now, or by this very command before a redelivery: hand each module on (deduplicated by id).
    total_modules = await plans.total_modules(conn, run.session_id) or 0
    return [_handoff(run, "researcher", module_index=i, round=revision) for i in range(total_modules)]


async def review_module(db: Database, bus: Bus, cmd: ModuleReview) -> list[Handoff]:
    """Approve one module of a course's draft, or send it (alone) back through the pipeline with a comment."""
    async with db.transaction() as conn:
        run = await _run_of(conn, cmd)
        course = await versions.course_of_session(conn, run.company_id, run.session_id)
        latest = await versions.latest_version(conn, run.company_id, course.course_id) if course else None
        if course is None or latest is None or run.status is not RunStatus.COMPLETED:
            raise InvalidEvent(f"course run {run.session_id} has no assembled course to review yet")
        if cmd.module_index >= len(latest.course.get("modules", [])):
            raise InvalidEvent(f"the course has no module {cmd.module_index}")
        if cmd.decision == "approve":
            if not await reviews.action_recorded(conn, run.company_id, cmd.event_id):
                await reviews.record_action(
                    conn,
                    company_id=run.company_id,
                    course_id=course.course_id,
                    session_id=run.session_id,
                    actor=cmd.reviewer,
                    action="module.approved",
                    details={
                        "module_index": cmd.module_index,
                        "version": latest.version,
                        "comment": cmd.comment,
                        "event_id": str(cmd.event_id),
                    },
                )
            return []
        request = await reviews.request_for_command(conn, cmd.event_id)
        if request is None:
            if not cmd.comment.strip():
                raise InvalidEvent("a change request needs a comment: it is what the writer works from")
            latest_revision = await content.latest_revision(conn, run.session_id, cmd.module_index)
            if latest_revision is None:
                raise InvalidEvent(f"module {cmd.module_index} of course run {run.session_id} has no draft")
            request = await reviews.open_request(
                conn,
                session_id=run.session_id,
                company_id=run.company_id,
                kind=RequestKind.CHANGE_REQUEST,
                module_index=cmd.module_index,
                revision=latest_revision + 1,
                comment=cmd.comment,
                reviewer=cmd.reviewer,
                command_event_id=cmd.event_id,
            )
            await reviews.record_action(
                conn,
                company_id=run.company_id,
                course_id=course.course_id,
                session_id=run.session_id,
                actor=cmd.reviewer,
                action="module.changes_requested",
                details={
                    "module_index": cmd.module_index,
                    "version": latest.version,
                    "comment": cmd.comment,
                    "round": request.round,
                    "event_id": str(cmd.event_id),
                },
            )
        assert request.module_index is not None and request.revision is not None
        handoffs = [_handoff(run, "content", module_index=request.module_index, revision=request.revision,
                             round=request.round)]  # fmt: skip
    for h in handoffs:
        await bus.publish(handoff_subject(h.stage), h)
    return handoffs
