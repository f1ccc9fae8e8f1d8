"""The learner's pages: an employee opens the personal link their learning team sent, and sees the published
version of their courses, their progress per module, and their quiz attempts.

The link's token is kept in a cookie of its own (HttpOnly, SameSite=Lax); the learner's company and employee always
come from the stored link, never from the request. Quiz answers are scored on the server against the published
version's answer key; a passed quiz completes the module.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import Field

from coursegen.gateway.auth import check_csrf
from coursegen.gateway.inputs import Input
from coursegen.gateway.pages import render
from coursegen.gateway.problems import Problem
from coursegen.gateway.security import digest
from coursegen.gateway.state import state
from coursegen.shared.courseview.load import load_version_view
from coursegen.shared.courseview.model import DEFAULT_PASS_MARK, CourseDataError, CourseView
from coursegen.shared.courseview.render import inline_script, render_course_fragment
from coursegen.shared.courseview.xapi import LrsSettings, xapi_scripts
from coursegen.shared.review import actions
from coursegen.shared.store import learners, versions
from coursegen.shared.store.learners import Learner

log = logging.getLogger("coursegen.gateway")
router = APIRouter(include_in_schema=False)

LEARNER_COOKIE = "cg_learner"
LINK_DAYS_SECONDS = 90 * 24 * 3600


async def current_learner(request: Request) -> Learner | None:
    token = request.cookies.get(LEARNER_COOKIE)
    if not token:
        return None
    async with state(request).db.connection() as conn:
        return await learners.learner_of_link(conn, digest(token))


async def learner_caller(request: Request) -> Learner:
    learner = await current_learner(request)
    if learner is None:
        raise Problem(
            401,
            "open the personal link your learning team sent you (it may have expired: ask them for a new one)",
            title="Open your personal link",
        )
    await check_csrf(request)
    return learner


LearnerCaller = Annotated[Learner, Depends(learner_caller)]


@router.get("/learn/open/{token}", response_model=None)
async def open_link(request: Request, token: str) -> Response:
    """A personal link: the learner's courses from now on in this browser."""
    async with state(request).db.connection() as conn:
        learner = await learners.learner_of_link(conn, digest(token)) if len(token) <= 200 else None
    if learner is None:
        raise Problem(404, "this personal link is not valid, or has expired: ask your learning team for a new one",
                      title="Unknown link")  # fmt: skip
    response = RedirectResponse("/learn", status_code=303)
    response.set_cookie(
        LEARNER_COOKIE,
        token,
        max_age=LINK_DAYS_SECONDS,
        httponly=True,
        samesite="lax",
        secure=state(request).gateway.cookie_secure,
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/learn", response_class=HTMLResponse)
async def my_courses(request: Request, learner: LearnerCaller) -> HTMLResponse:
    courses = await actions.learner_courses(state(request).db, learner.company_id, learner.employee_id)
    return await render(request, "learn.html", learner=learner, courses=courses)


@dataclass(frozen=True)
class _Shown:
    course: actions.LearnerCourse
    fragment: Markup
    pass_mark: int
    scripts: tuple[Markup, ...]
    """The xAPI reporter, when an LRS is configured: the learner's progress goes there too."""


def _xapi(view: CourseView, learner: Learner) -> tuple[Markup, ...]:
    try:
        found = xapi_scripts(view, LrsSettings(), learner_id=str(learner.employee_id), learner_name=learner.name)
    except ValueError as exc:
        # A misconfigured LRS must not keep a learner from their course: the page works, the operator is told.
        log.warning("no xAPI on the learner's page: %s", exc)
        return ()
    return tuple(inline_script(s) for s in found.scripts) if found else ()


async def _course(request: Request, learner: Learner, course_id: uuid.UUID) -> _Shown:
    db = state(request).db
    mine = {c.course_id: c for c in await actions.learner_courses(db, learner.company_id, learner.employee_id)}
    if course_id not in mine:
        raise Problem(404, "no such course among yours", title="Not Found")
    async with db.connection(learner.company_id) as conn:
        published = await versions.published_version(conn, learner.company_id, course_id)
        if published is None:
            raise Problem(404, "no such course among yours", title="Not Found")
        try:
            view = await load_version_view(conn, published)
        except CourseDataError as exc:
            raise Problem(422, f"this course cannot be shown: {exc}", title="Unreadable course") from None
    return _Shown(mine[course_id], Markup(render_course_fragment(view)), view.pass_mark, _xapi(view, learner))


@router.get("/learn/courses/{course_id}", response_class=HTMLResponse)
async def learner_course(request: Request, learner: LearnerCaller, course_id: uuid.UUID) -> HTMLResponse:
    shown = await _course(request, learner, course_id)
    return await render(
        request, "learn_course.html", learner=learner, course=shown.course, fragment=shown.fragment,
        pass_mark=shown.pass_mark, scripts=shown.scripts,
    )  # fmt: skip


@router.post("/learn/courses/{course_id}/modules/{module_index}/progress", response_model=None)
async def module_progress(
    request: Request, learner: LearnerCaller, course_id: uuid.UUID, module_index: int
) -> Response:
    form = await request.form()
    completed = form.get("status") != "in_progress"
    try:
        await actions.set_module_progress(
            state(request).db, learner.company_id, learner.employee_id, course_id, module_index, completed=completed
        )
    except actions.NotFound:
        raise Problem(404, "no such course among yours", title="Not Found") from None
    except actions.Refused as exc:
        raise Problem(422, str(exc), title="Not recorded") from None
    return RedirectResponse(f"/learn/courses/{course_id}#progress-{module_index + 1}", status_code=303)


class QuizAnswers(Input):
    answers: list[int] = Field(max_length=200, strict=True)
    """The chosen option of each question, in order; -1 for one left unanswered."""


@router.post("/learn/courses/{course_id}/modules/{module_index}/quiz")
async def quiz_attempt(
    request: Request,
    learner: LearnerCaller,
    course_id: uuid.UUID,
    module_index: int,
    body: Annotated[QuizAnswers, Body()],
) -> JSONResponse:
    """A quiz attempt, scored on the server; a pass (at the course's pass mark) completes the module."""
    db = state(request).db
    try:
        attempt = await actions.submit_quiz(
            db, learner.company_id, learner.employee_id, course_id, module_index, body.answers
        )
        passed = attempt.score * 100 >= DEFAULT_PASS_MARK
        if passed:
            await actions.set_module_progress(
                db, learner.company_id, learner.employee_id, course_id, module_index, completed=True
            )
    except actions.NotFound:
        raise Problem(404, "no such course among yours", title="Not Found") from None
    except actions.Refused as exc:
        raise Problem(422, str(exc), title="Not recorded") from None
    return JSONResponse(
        {
            "module_index": module_index,
            "correct": attempt.correct,
            "total": attempt.total,
            "score": attempt.score,
            "passed": passed,
            "pass_mark": DEFAULT_PASS_MARK,
        }
    )


@router.post("/learn/leave", response_model=None)
async def leave(request: Request, learner: LearnerCaller) -> Response:
    response = RedirectResponse("/learn/left", status_code=303)
    response.delete_cookie(LEARNER_COOKIE)
    return response


@router.get("/learn/left", response_class=HTMLResponse)
async def left(request: Request) -> HTMLResponse:
    return await render(request, "learn_left.html")
