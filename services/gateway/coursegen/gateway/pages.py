"""The web app's pages: server-rendered Jinja2, htmx for partial updates, server-sent events for live progress.

Each page calls the same store and view functions as the API. Forms post with
the CSRF token of the session (a hidden field; htmx sends it as a header).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import ValidationError

from coursegen.gateway import api, views
from coursegen.gateway.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    PageCaller,
    SignInRequired,
    check_csrf,
    current_user,
    expected_csrf,
)
from coursegen.gateway.csv_import import SAMPLE, NotUtf8, decode
from coursegen.gateway.documents import ingest_upload
from coursegen.gateway.exports import ExportFormat, course_file
from coursegen.gateway.people import import_employees
from coursegen.gateway.problems import Problem, RowError, not_found
from coursegen.gateway.security import digest, new_token, verify_password
from coursegen.gateway.state import state
from coursegen.gateway.uploads import read_limited
from coursegen.shared import kb
from coursegen.shared.courseview.load import load_course_view
from coursegen.shared.courseview.model import CourseDataError
from coursegen.shared.courseview.render import render_course_fragment, static_files
from coursegen.shared.store import documents as doc_store
from coursegen.shared.store import gateway_reads as reads
from coursegen.shared.store import people as people_store
from coursegen.shared.store import versions
from coursegen.shared.store.users import create_session, delete_session, user_by_email
from coursegen.shared.subjects import STAGES

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def install(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": "/login"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={target}", status_code=303)


async def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    user = await current_user(request)
    csrf = await expected_csrf(request)
    new_cookie = None
    if csrf is None:
        csrf = new_cookie = secrets.token_urlsafe(32)
    response = TEMPLATES.TemplateResponse(
        request, name, {"user": user, "csrf_token": csrf, "stages": STAGES, **context}, status_code=status_code
    )
    if new_cookie:
        gw = state(request).gateway
        response.set_cookie(CSRF_COOKIE, new_cookie, httponly=True, samesite="lax", secure=gw.cookie_secure)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(
    request: Request, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None
) -> Response:
    response = TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {"user": None, "csrf_token": "", "status": status, "title": title, "detail": detail, "errors": errors},
        status_code=status,
    )
    if request.headers.get("hx-request"):
        # htmx swaps only 2xx answers by default: show the error where the answer would have gone.
        response.status_code = 200
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


# --- signing in --------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/people"


@router.get("/", response_model=None)
async def home(request: Request) -> Response:
    return RedirectResponse("/people" if await current_user(request) else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return await render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_model=None)
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form()] = "/people",
) -> Response:
    await check_csrf(request)
    gw = state(request).gateway
    client = request.client.host if request.client else "?"
    # Failed sign-ins from one address are limited; a successful one costs nothing (an office shares an address).
    limiter, limit_key = state(request).login_limiter, f"login:{client}"
    if limiter.wait(limit_key) > 0:
        return await render(
            request,
            "login.html",
            429,
            next=_safe_next(next),
            error="Too many sign-in attempts. Wait a minute and try again.",
            email=email,
        )
    db = state(request).db
    user = None
    if "\x00" not in email:
        async with db.connection() as conn:
            user = await user_by_email(conn, email.strip())
    if not verify_password(user.password_hash if user else None, password) or user is None:
        limiter.take(limit_key)
        return await render(
            request,
            "login.html",
            401,
            next=_safe_next(next),
            error="That email and password do not match an account.",
            email=email,
        )
    token = new_token()
    expires = datetime.now(UTC) + timedelta(hours=gw.session_hours)
    async with db.transaction(user.company_id) as conn:
        await create_session(conn, token_hash=digest(token), user=user, csrf_token=new_token(), expires_at=expires)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(gw.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=gw.cookie_secure,
    )
    return response


@router.post("/logout", response_model=None)
async def logout(request: Request, caller: PageCaller) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with state(request).db.connection(caller.company_id) as conn:
            await delete_session(conn, digest(token))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- people ------------------------------------------------------------------------------------


def _parse_role_skills(text: str) -> list[api.RoleSkillIn]:
    """``Skill: level: importance`` per line (importance optional)."""
    skills = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(":")]
        if len(parts) not in (2, 3):
            raise ValueError(f"skill line {n}: write it as 'Skill: level' or 'Skill: level: importance'")
        try:
            numbers = [int(p) for p in parts[1:]]
        except ValueError:
            raise ValueError(f"skill line {n}: level and importance are whole numbers 1–5") from None
        skills.append(
            api.RoleSkillIn(
                skill_name=parts[0], required_level=numbers[0], importance=numbers[1] if len(numbers) > 1 else 3
            )
        )
    return skills


def _parse_employee_skills(text: str) -> list[api.SkillIn]:
    skills = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, level = line.rpartition(":")
        if not sep or not name.strip():
            raise ValueError(f"skill line {n}: write it as 'Skill: level'")
        try:
            skills.append(api.SkillIn(skill_name=name.strip(), level=int(level)))
        except ValueError:
            raise ValueError(f"skill line {n}: the level is a whole number 0–5") from None
    return skills


def _validation_message(exc: ValidationError | ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}".removeprefix(": ") for e in exc.errors())
    return str(exc)


async def _people_page(
    request: Request,
    caller: Any,
    offset: int = 0,
    role_error: str | None = None,
    employee_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    async with state(request).db.connection(caller.company_id) as conn:
        roles = await people_store.list_roles(conn, caller.company_id)
        employees, total = await people_store.list_employees(conn, caller.company_id, limit=PAGE_SIZE, offset=offset)
    return await render(
        request,
        "people.html",
        status_code,
        roles=roles,
        employees=employees,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        role_error=role_error,
        employee_error=employee_error,
    )


@router.get("/people", response_class=HTMLResponse)
async def people_page(request: Request, caller: PageCaller, offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    return await _people_page(request, caller, offset)


@router.post("/people/roles", response_model=None)
async def add_role(
    request: Request,
    caller: PageCaller,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    skills: Annotated[str, Form()] = "",
    role_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        role = api.RoleIn(name=name, description=description, skills=_parse_role_skills(skills))
        target = uuid.UUID(role_id) if role_id else None
    except (ValidationError, ValueError) as exc:
        return await _people_page(request, caller, role_error=_validation_message(exc), status_code=422)
    try:
        await api._save_role(request, caller.company_id, role, target)
    except Problem as problem:
        return await _people_page(request, caller, role_error=problem.detail, status_code=problem.status)
    return RedirectResponse("/people#roles", status_code=303)


@router.get("/people/employees/{employee_id}", response_class=HTMLResponse)
async def employee_page(request: Request, caller: PageCaller, employee_id: uuid.UUID) -> HTMLResponse:
    async with state(request).db.connection(caller.company_id) as conn:
        employee = await people_store.get_employee(conn, caller.company_id, employee_id)
        roles = await people_store.list_roles(conn, caller.company_id)
        courses, _ = await reads.list_courses(conn, caller.company_id, employee_id=employee_id, limit=50, offset=0)
    if employee is None:
        raise not_found("employee")
    return await render(request, "employee.html", employee=employee, roles=roles, courses=courses, error=None)


@router.post("/people/employees", response_model=None)
async def save_employee(
    request: Request,
    caller: PageCaller,
    full_name: Annotated[str, Form()] = "",
    external_id: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    department: Annotated[str, Form()] = "",
    current_role_id: Annotated[str, Form()] = "",
    target_role_id: Annotated[str, Form()] = "",
    skills: Annotated[str, Form()] = "",
    employee_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = api.EmployeeIn(
            full_name=full_name,
            external_id=external_id or None,
            email=email or None,
            department=department or None,
            current_role_id=uuid.UUID(current_role_id) if current_role_id else None,
            target_role_id=uuid.UUID(target_role_id) if target_role_id else None,
            skills=_parse_employee_skills(skills),
        )
        target = uuid.UUID(employee_id) if employee_id else None
    except (ValidationError, ValueError) as exc:
        return await _people_page(request, caller, employee_error=_validation_message(exc), status_code=422)
    try:
        if target is None:
            saved = await api.create_employee(request, caller, data)
        else:
            saved = await api.update_employee(request, caller, target, data)
    except Problem as problem:
        return await _people_page(request, caller, employee_error=problem.detail, status_code=problem.status)
    return RedirectResponse(f"/people/employees/{saved.id}", status_code=303)


# --- import ------------------------------------------------------------------------------------


@router.get("/import", response_class=HTMLResponse)
async def import_page(request: Request, caller: PageCaller) -> HTMLResponse:
    return await render(request, "import.html", result=None, text="", errors=[], imported=None)


@router.get("/import/sample.csv")
async def sample_csv(caller: PageCaller) -> PlainTextResponse:
    return PlainTextResponse(
        SAMPLE,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="coursegen-employees-sample.csv"'},
    )


@router.post("/import", response_class=HTMLResponse)
async def import_upload(
    request: Request,
    caller: PageCaller,
    file: UploadFile | None = None,
    text: Annotated[str, Form(max_length=20_000_000)] = "",
    action: Annotated[str, Form()] = "preview",
) -> HTMLResponse:
    """Preview the file (every row with its problems); import it when asked and it is valid."""
    gw = state(request).gateway
    if file is not None and file.filename:
        data = await read_limited(file, gw.max_upload_bytes)
        try:
            text = decode(data)
        except NotUtf8 as exc:
            errors = [RowError(line=exc.line, column=None, message=str(exc))]
            return await render(request, "import.html", 422, result=None, text="", errors=errors, imported=None)
    if len(text.encode()) > gw.max_upload_bytes:
        raise Problem(413, f"the file is larger than {gw.max_upload_bytes // 1024} KiB", title="Content Too Large")
    result = await import_employees(
        state(request).db, caller.company_id, text, max_rows=gw.max_csv_rows, commit=action == "import"
    )
    errors = result.parsed.all_errors
    status_code = 422 if errors else 200
    return await render(
        request,
        "import.html",
        status_code,
        result=result.parsed,
        text=text,
        errors=errors,
        imported=result if action == "import" and not errors else None,
    )


# --- knowledge base ----------------------------------------------------------------------------


@router.get("/knowledge", response_class=HTMLResponse)
async def knowledge_page(
    request: Request,
    caller: PageCaller,
    q: Annotated[str, Query(max_length=500)] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    async with state(request).db.connection(caller.company_id) as conn:
        documents, total = await doc_store.list_documents(conn, caller.company_id, limit=PAGE_SIZE, offset=offset)
        hits = await kb.search(conn, caller.company_id, q, limit=10) if q.strip() else []
    return await render(
        request,
        "knowledge.html",
        documents=documents,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        q=q,
        hits=hits,
        message=None,
    )


@router.post("/knowledge", response_model=None)
async def upload_document(request: Request, caller: PageCaller, file: UploadFile | None = None) -> Response:
    if file is None or not file.filename:
        raise Problem(422, "choose a file to upload", title="No file")
    data = await read_limited(file, state(request).gateway.max_upload_bytes)
    document_id, _ = await ingest_upload(state(request).db, caller.company_id, file.filename, data)
    return RedirectResponse(f"/knowledge/{document_id}", status_code=303)


@router.get("/knowledge/{document_id}", response_class=HTMLResponse)
async def document_page(request: Request, caller: PageCaller, document_id: uuid.UUID) -> HTMLResponse:
    async with state(request).db.connection(caller.company_id) as conn:
        document = await doc_store.get_document(conn, caller.company_id, document_id)
        if document is None:
            raise not_found("document")
        passages = await doc_store.document_passages(conn, caller.company_id, document_id)
    return await render(request, "document.html", document=document, passages=passages)


@router.post("/knowledge/{document_id}/delete", response_model=None)
async def delete_document(request: Request, caller: PageCaller, document_id: uuid.UUID) -> Response:
    async with state(request).db.transaction(caller.company_id) as conn:
        if not await doc_store.delete_document(conn, caller.company_id, document_id):
            raise not_found("document")
    return RedirectResponse("/knowledge", status_code=303)


# --- generate and jobs -------------------------------------------------------------------------


@router.get("/generate", response_class=HTMLResponse)
async def generate_page(request: Request, caller: PageCaller) -> HTMLResponse:
    async with state(request).db.connection(caller.company_id) as conn:
        roles = await people_store.list_roles(conn, caller.company_id)
        employees, total = await people_store.list_employees(conn, caller.company_id, limit=200, offset=0)
    return await render(request, "generate.html", roles=roles, employees=employees, total=total, error=None)


@router.post("/generate", response_model=None)
async def generate(
    request: Request,
    caller: PageCaller,
    employees: Annotated[str, Form()] = "all",
    role_id: Annotated[str, Form()] = "",
    employee_ids: Annotated[list[str] | None, Form()] = None,
    token_budget: Annotated[str, Form()] = "",
    review_outline: Annotated[bool, Form()] = False,
) -> Response:
    try:
        job = api.JobIn.model_validate(
            {
                "employees": employees,
                "role_id": uuid.UUID(role_id) if role_id else None,
                "employee_ids": [uuid.UUID(e) for e in employee_ids or []],
                "token_budget": int(token_budget) if token_budget.strip() else None,
                "review_outline": review_outline,
            }
        )
    except (ValidationError, ValueError) as exc:
        raise Problem(422, _validation_message(exc), title="Invalid request") from None
    accepted = await api.submit(request, caller, job)
    return RedirectResponse(f"/jobs/{accepted.job_id}", status_code=303)


@router.get("/jobs", response_class=HTMLResponse)
async def jobs_page(request: Request, caller: PageCaller, offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    async with state(request).db.connection(caller.company_id) as conn:
        jobs, total = await reads.list_jobs(conn, caller.company_id, limit=PAGE_SIZE, offset=offset)
    return await render(request, "jobs.html", jobs=jobs, total=total, offset=offset, page_size=PAGE_SIZE)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, caller: PageCaller, job_id: uuid.UUID) -> HTMLResponse:
    detail = await views.job_detail(state(request).db, caller.company_id, job_id)
    if detail is None:
        raise not_found("job")
    return await render(request, "job.html", detail=detail)


@router.get("/jobs/{job_id}/stream")
async def job_stream(request: Request, caller: PageCaller, job_id: uuid.UUID) -> StreamingResponse:
    """The job page's live part, as HTML fragments over server-sent events."""
    if await views.job_detail(state(request).db, caller.company_id, job_id) is None:
        raise not_found("job")

    def render_snapshot(detail: Any) -> str:
        return str(TEMPLATES.get_template("_job_progress.html").render(detail=detail, stages=STAGES))

    def render_event(event: Any) -> str:
        return str(TEMPLATES.get_template("_job_event.html").render(event=event.data, subject=event.subject))

    last = request.headers.get("last-event-id")
    stream = views.sse_stream(
        request,
        caller.company_id,
        job_id,
        int(last) if last and last.isdigit() else None,
        render_event=render_event,
        snapshot=("progress", "html", render_snapshot),
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=views.SSE_HEADERS)


@router.post("/jobs/{job_id}/{action}", response_model=None)
async def control(request: Request, caller: PageCaller, job_id: uuid.UUID, action: str) -> Response:
    if action not in ("resume", "cancel"):
        raise not_found("action")
    await api._control(request, caller, job_id, action, "cancelled in the web app" if action == "cancel" else "")
    return RedirectResponse(f"/jobs/{job_id}?{action}=requested", status_code=303)


@router.get("/jobs/{job_id}/report", response_class=HTMLResponse)
async def report_page(request: Request, caller: PageCaller, job_id: uuid.UUID) -> HTMLResponse:
    report = await views.job_report(state(request).db, caller.company_id, job_id, state(request).settings.prices)
    if report is None:
        raise not_found("job")
    trace = await views.job_waterfall(state(request).db, caller.company_id, job_id)
    jaeger = state(request).settings.jaeger_ui_url
    return await render(
        request, "report.html", report=report, trace=trace, jaeger=jaeger.rstrip("/") if jaeger else None
    )


# --- courses -----------------------------------------------------------------------------------


def passage_href(source: Any) -> str:
    """A cited passage in the app's knowledge base page (a web source has none)."""
    if source.document_id is None or source.passage_id is None:
        return ""
    return f"/knowledge/{source.document_id}#p-{source.passage_id}"


@router.get("/courses/{course_id}", response_class=HTMLResponse)
async def course_page(request: Request, caller: PageCaller, course_id: uuid.UUID) -> HTMLResponse:
    """The course as every export shows it (the shared course view), inside the app's frame."""
    async with state(request).db.connection(caller.company_id) as conn:
        course = await reads.get_course(conn, caller.company_id, course_id)
        try:
            view = await load_course_view(conn, course_id, caller.company_id)
        except CourseDataError as exc:
            raise Problem(422, f"this course cannot be shown: {exc}", title="Unreadable course") from None
        versioned = await versions.course_of_session(conn, caller.company_id, course.session_id) if course else None
    if course is None or view is None:
        raise not_found("course")
    return await render(
        request,
        "course.html",
        course=course,
        fragment=Markup(render_course_fragment(view, passage_href=passage_href)),
        versioned=versioned,
    )


@router.get("/courses/{course_id}/export")
async def course_export(
    request: Request, caller: PageCaller, course_id: uuid.UUID, format: ExportFormat, pass_mark: int = 80
) -> Response:
    """The course as a download (SCORM 1.2 or 2004, QTI, or one offline HTML file)."""
    return await course_file(state(request).db, caller.company_id, course_id, format, max(0, min(100, pass_mark)))


@router.get("/courseview/{name}")
async def course_asset(name: str) -> Response:
    """The course view's own stylesheet and script (the same files every export carries)."""
    files = static_files()
    if name not in files:
        raise not_found("file")
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return Response(files[name], media_type=f"{media}; charset=utf-8", headers={"Cache-Control": "max-age=3600"})
