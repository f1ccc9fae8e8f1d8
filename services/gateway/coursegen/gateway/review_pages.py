"""The reviewer's pages: waiting outlines to approve, drafts to review and revise, versions to compare and publish,
the audit trail, and personal links for learners.

Decisions on a course run (an outline, a module) are published as review events, exactly as the CLI sends them;
the coordinator applies them, checked against the run's company. Publishing, direct edits and the audit trail go
through the same domain functions as the CLI. The company is always the signed-in user's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from coursegen.gateway import commands
from coursegen.gateway.auth import Caller, PageCaller
from coursegen.gateway.pages import PAGE_SIZE, _validation_message, passage_href, render
from coursegen.gateway.problems import Problem, not_found, problem_response
from coursegen.gateway.security import digest, new_token
from coursegen.gateway.state import state
from coursegen.shared.courseview.load import load_version_view
from coursegen.shared.courseview.model import CourseDataError
from coursegen.shared.courseview.render import render_course_fragment
from coursegen.shared.events import ModuleReview, OutlineModule, OutlineReview
from coursegen.shared.review import actions
from coursegen.shared.review.claims import SECTIONS
from coursegen.shared.store import gateway_reads as reads
from coursegen.shared.store import learners, plans, reviews, runs, versions
from coursegen.shared.store.runs import RunStatus

router = APIRouter(include_in_schema=False)

SECTION_NAMES = {
    "introduction": "Introduction",
    "core_content": "Core content",
    "practical_applications": "Putting it into practice",
    "case_studies": "Case studies",
    "assessments": "Check your progress",
}
LEARNER_LINK_DAYS = 90


def reviewer(caller: Caller) -> str:
    """Who acts, as the audit trail names them: the signed-in user's email."""
    assert caller.user is not None
    return caller.user.email


NOTICES = {
    "outline-approved": "The outline was approved: the course is being written.",
    "outline-rejected": "The outline was rejected: it is being planned again from your comment.",
    "module-approved": "Module {n} approved.",
    "changes-requested": "Changes requested on module {n}: it alone is being rewritten, and a new draft version "
    "follows.",
    "edited": "Your edit is version {n}, a draft.",
    "published": "Version {n} is published: learners see it from now on.",
}


def notice(request: Request) -> str | None:
    """The message a redirect after an action asks the next page to show (a fixed text, never the URL's)."""
    text = NOTICES.get(request.query_params.get("done", ""))
    number = request.query_params.get("n", "")
    return text.format(n=int(number) if number.isdigit() else "") if text else None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]


@router.get("/review", response_class=HTMLResponse)
async def review_home(request: Request, caller: PageCaller, offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    async with state(request).db.connection(caller.company_id) as conn:
        outlines = await reads.outlines_waiting(conn, caller.company_id)
        courses, total = await versions.list_courses(conn, caller.company_id, limit=PAGE_SIZE, offset=offset)
    return await render(
        request,
        "review.html",
        outlines=outlines,
        courses=courses,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        sent=notice(request),
    )


# --- outlines ----------------------------------------------------------------------------------


async def outline_of(request: Request, caller: Caller, session_id: str) -> tuple[runs.CourseRun, plans.StoredPlan]:
    """The company's course run and its stored outline; 404 for another company's or one not planned yet."""
    async with state(request).db.connection(caller.company_id) as conn:
        run = await runs.get_run(conn, session_id)
        if run is None or run.company_id != caller.company_id or not await plans.plan_exists(conn, session_id):
            raise not_found("outline")
        plan = await plans.get_plan(conn, session_id)
    return run, plan


async def _outline_page(
    request: Request, caller: Caller, session_id: str, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    run, plan = await outline_of(request, caller, session_id)
    return await render(
        request,
        "outline.html",
        status_code,
        run=run,
        plan=plan,
        waiting=run.status is RunStatus.AWAITING_OUTLINE_REVIEW and not plan.approved,
        error=error,
    )


@router.get("/review/outlines/{session_id}", response_class=HTMLResponse)
async def outline_page(request: Request, caller: PageCaller, session_id: str) -> HTMLResponse:
    return await _outline_page(request, caller, session_id)


def edited_outline(form: Any, planned: list[dict[str, Any]]) -> list[OutlineModule] | None:
    """The outline as the reviewer left it in the form: modules reordered by their position, removed, edited,
    and a new one added; None when nothing changed (the plan is approved as it stands)."""
    rows: list[tuple[float, int, OutlineModule]] = []
    for i, module in enumerate(planned):
        if form.get(f"remove_{i}"):
            continue
        position = str(form.get(f"position_{i}", i + 1)).strip()
        try:
            order = float(position)
        except ValueError:
            raise ValueError(f"module {i + 1}: the position is a number") from None
        priority = module.get("priority")
        rows.append(
            (
                order,
                i,
                OutlineModule.model_validate(
                    {
                        "title": str(form.get(f"title_{i}", module.get("title", ""))).strip(),
                        "skills": _items(str(form.get(f"skills_{i}", ", ".join(module.get("skills", []))))),
                        "objectives": _lines(str(form.get(f"objectives_{i}", "\n".join(module.get("objectives", []))))),
                        "duration_weeks": int(module.get("duration_weeks") or 1),
                        "research_queries": [str(q) for q in module.get("research_queries", [])][:20],
                        "priority": priority if priority in ("critical", "high", "low") else "medium",
                    }
                ),
            )
        )
    new_title = str(form.get("new_title", "")).strip()
    if new_title:
        rows.append(
            (
                float(len(planned) + 1),
                len(planned),
                OutlineModule(
                    title=new_title,
                    skills=_items(str(form.get("new_skills", ""))),
                    objectives=_lines(str(form.get("new_objectives", ""))),
                ),
            )
        )
    edited = [m for _, _, m in sorted(rows, key=lambda r: (r[0], r[1]))]
    unchanged = len(edited) == len(planned) and all(
        m.title == p.get("title") and m.skills == p.get("skills") and m.objectives == p.get("objectives")
        for m, p in zip(edited, planned, strict=True)
    )
    return None if unchanged else edited


@router.post("/review/outlines/{session_id}", response_model=None)
async def decide_outline(request: Request, caller: PageCaller, session_id: str) -> Response:
    run, plan = await outline_of(request, caller, session_id)
    form = await request.form()
    decision = form.get("decision")
    comment = str(form.get("comment", "")).strip()
    if run.status is not RunStatus.AWAITING_OUTLINE_REVIEW or plan.approved:
        return await _outline_page(
            request, caller, session_id, error="This outline is not waiting for review any more.", status_code=409
        )
    try:
        if decision == "reject":
            if not comment:
                raise ValueError("say what to change: the planner plans again from your comment")
            modules = None
        elif decision == "approve":
            modules = edited_outline(form, plan.modules)
            if modules is not None and not modules:
                raise ValueError("keep at least one module")
        else:
            raise ValueError("choose Approve or Reject")
        command = OutlineReview.model_validate(
            {
                "company_id": caller.company_id,
                "session_id": session_id,
                "job_id": run.job_id,
                "reviewer": reviewer(caller),
                "decision": decision,
                "modules": modules,
                "comment": comment,
                "source": "gateway",
            }
        )
    except (ValidationError, ValueError) as exc:
        return await _outline_page(request, caller, session_id, error=_validation_message(exc), status_code=422)
    await commands.review(state(request).js, command)
    return RedirectResponse(f"/review?done=outline-{decision}d", status_code=303)


# --- courses and versions ----------------------------------------------------------------------


def install(app: FastAPI) -> None:
    @app.exception_handler(actions.NotFound)
    async def not_found_here(request: Request, exc: actions.NotFound) -> Response:
        # Another company's course or version reads exactly as one that does not exist.
        return problem_response(request, Problem(404, str(exc), title="Not Found"))


async def _course_page(
    request: Request,
    caller: Caller,
    course_id: uuid.UUID,
    version: int | None,
    *,
    error: str | None = None,
    message: str | None = None,
    learner_link: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    db = state(request).db
    async with db.connection(caller.company_id) as conn:
        course = await versions.get_course(conn, caller.company_id, course_id)
        if course is None:
            raise not_found("course")
        listed = await versions.list_versions(conn, caller.company_id, course_id)
        if not listed:
            raise not_found("course")
        number = version or listed[-1].version
        shown = await versions.get_version(conn, caller.company_id, course_id, number)
        if shown is None:
            raise not_found("version")
        flags = await versions.claim_flags(conn, caller.company_id, shown.version_id)
        open_links = await learners.open_links(conn, caller.company_id, course.employee_id)
        in_progress = await reviews.changes_in_progress(conn, caller.company_id, listed[-1].session_id)
        try:
            view = await load_version_view(conn, shown)
        except CourseDataError as exc:
            raise Problem(422, f"this version cannot be shown: {exc}", title="Unreadable course") from None
    return await render(
        request,
        "review_course.html",
        status_code,
        course=course,
        versions=listed,
        shown=shown,
        latest=listed[-1],
        flags=flags,
        view=view,
        fragment=Markup(render_course_fragment(view, passage_href=passage_href)),
        sections=SECTIONS,
        section_names=SECTION_NAMES,
        open_links=open_links,
        in_progress=in_progress,
        error=error,
        message=message or notice(request),
        learner_link=learner_link,
    )


@router.get("/review/courses/{course_id}", response_class=HTMLResponse)
async def course_review(
    request: Request, caller: PageCaller, course_id: uuid.UUID, version: Annotated[int | None, Query(ge=1)] = None
) -> HTMLResponse:
    return await _course_page(request, caller, course_id, version)


@router.post("/review/courses/{course_id}/modules/{module_index}", response_model=None)
async def review_module(request: Request, caller: PageCaller, course_id: uuid.UUID, module_index: int) -> Response:
    form = await request.form()
    decision = form.get("decision")
    comment = str(form.get("comment", "")).strip()
    listed = await actions.list_versions(state(request).db, caller.company_id, course_id)
    if not listed:
        raise not_found("course")
    latest = listed[-1]
    if decision not in ("approve", "request_changes"):
        return await _course_page(request, caller, course_id, None, error="Choose Approve or Request changes.",
                                  status_code=422)  # fmt: skip
    if decision == "request_changes" and not comment:
        return await _course_page(
            request, caller, course_id, None, status_code=422,
            error="Say what to change: the writer works from your comment.",
        )  # fmt: skip
    try:
        command = ModuleReview.model_validate(
            {
                "company_id": caller.company_id,
                "session_id": latest.session_id,
                "module_index": module_index,
                "reviewer": reviewer(caller),
                "decision": decision,
                "comment": comment,
                "source": "gateway",
            }
        )
    except ValidationError as exc:
        return await _course_page(request, caller, course_id, None, error=_validation_message(exc), status_code=422)
    await commands.review(state(request).js, command)
    done = "module-approved" if decision == "approve" else "changes-requested"
    return RedirectResponse(f"/review/courses/{course_id}?done={done}&n={module_index + 1}", status_code=303)


@router.get("/review/courses/{course_id}/versions/{version}/modules/{module_index}/edit", response_class=HTMLResponse)
async def edit_page(
    request: Request,
    caller: PageCaller,
    course_id: uuid.UUID,
    version: int,
    module_index: int,
    section: Annotated[str, Query()] = "core_content",
) -> HTMLResponse:
    found = await actions.get_version(state(request).db, caller.company_id, course_id, version)
    modules = found.course.get("modules", [])
    if not 0 <= module_index < len(modules) or section not in SECTIONS:
        raise not_found("section")
    return await render(
        request,
        "edit_section.html",
        version=found,
        module=modules[module_index],
        module_index=module_index,
        section=section,
        sections=SECTIONS,
        section_names=SECTION_NAMES,
        text=modules[module_index].get("sections", {}).get(section, ""),
        error=None,
    )


@router.post("/review/courses/{course_id}/versions/{version}/modules/{module_index}/edit", response_model=None)
async def save_edit(
    request: Request, caller: PageCaller, course_id: uuid.UUID, version: int, module_index: int
) -> Response:
    form = await request.form()
    section = str(form.get("section", ""))
    text = str(form.get("text", ""))
    try:
        created = await actions.edit_section(
            state(request).db,
            caller.company_id,
            course_id,
            base_version=version,
            module_index=module_index,
            section=section,
            text=text,
            actor=reviewer(caller),
        )
    except actions.Refused as exc:
        return await _course_page(request, caller, course_id, version, error=str(exc), status_code=422)
    return RedirectResponse(
        f"/review/courses/{course_id}?version={created.version}&done=edited&n={created.version}", status_code=303
    )


@router.post("/review/courses/{course_id}/versions/{version}/publish", response_model=None)
async def publish(request: Request, caller: PageCaller, course_id: uuid.UUID, version: int) -> Response:
    form = await request.form()
    override = str(form.get("override_reason", "")).strip() or None
    try:
        published = await actions.publish_version(
            state(request).db, caller.company_id, course_id, version, actor=reviewer(caller), override_reason=override
        )
    except actions.Refused as exc:
        return await _course_page(request, caller, course_id, version, error=str(exc), status_code=409)
    return RedirectResponse(
        f"/review/courses/{course_id}?version={version}&done=published&n={published.version}", status_code=303
    )


@router.get("/review/courses/{course_id}/compare", response_class=HTMLResponse)
async def compare(
    request: Request,
    caller: PageCaller,
    course_id: uuid.UUID,
    before: Annotated[int, Query(ge=1)],
    after: Annotated[int, Query(ge=1)],
) -> HTMLResponse:
    db = state(request).db
    diff = await actions.compare(db, caller.company_id, course_id, before, after)
    listed = await actions.list_versions(db, caller.company_id, course_id)
    return await render(
        request, "compare.html", diff=diff, course_id=course_id, versions=listed, section_names=SECTION_NAMES
    )


@router.get("/review/courses/{course_id}/audit", response_class=HTMLResponse)
async def audit(request: Request, caller: PageCaller, course_id: uuid.UUID) -> HTMLResponse:
    entries = await actions.audit_trail(state(request).db, caller.company_id, course_id)
    return await render(request, "audit.html", entries=entries, course_id=course_id)


@router.get("/review/courses/{course_id}/audit.csv")
async def audit_csv(request: Request, caller: PageCaller, course_id: uuid.UUID) -> Response:
    entries = await actions.audit_trail(state(request).db, caller.company_id, course_id)
    return Response(
        actions.audit_csv(entries),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="coursegen-audit-{course_id}.csv"'},
    )


@router.post("/review/courses/{course_id}/learner-link", response_model=None)
async def learner_link(request: Request, caller: PageCaller, course_id: uuid.UUID) -> Response:
    """A personal link for the course's learner, shown once; earlier links of theirs are revoked."""
    token = new_token()
    async with state(request).db.transaction(caller.company_id) as conn:
        course = await versions.get_course(conn, caller.company_id, course_id)
        if course is None:
            raise not_found("course")
        await learners.revoke_links(conn, caller.company_id, course.employee_id)
        await learners.create_link(
            conn,
            company_id=caller.company_id,
            employee_id=course.employee_id,
            token_hash=digest(token),
            created_by=reviewer(caller),
            expires_at=datetime.now(UTC) + timedelta(days=LEARNER_LINK_DAYS),
        )
    link = str(request.base_url).rstrip("/") + f"/learn/open/{token}"
    return await _course_page(
        request, caller, course_id, None, learner_link=link,
        message=f"A personal link for the learner, valid {LEARNER_LINK_DAYS} days. It is shown only now: copy it.",
    )  # fmt: skip
