"""The HTTP API under ``/api/v1``: JSON, paginated lists, RFC 9457 problems, the caller's company only."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, File, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, field_validator

from coursegen.gateway import commands, views
from coursegen.gateway.auth import ApiCaller, api_caller
from coursegen.gateway.documents import ingest_upload
from coursegen.gateway.exports import ExportFormat, course_file
from coursegen.gateway.inputs import Input
from coursegen.gateway.people import import_employees
from coursegen.gateway.problems import PROBLEM_RESPONSES, Problem, RowError, not_found
from coursegen.gateway.state import state
from coursegen.gateway.uploads import read_limited
from coursegen.shared import kb
from coursegen.shared.courseview import DEFAULT_PASS_MARK
from coursegen.shared.store import Database
from coursegen.shared.store import documents as doc_store
from coursegen.shared.store import gateway_reads as reads
from coursegen.shared.store import people as people_store
from coursegen.shared.store.job_requests import (
    job_request_by_event,
    job_request_key_taken_elsewhere,
    record_job_request,
)

T = TypeVar("T")

router = APIRouter(prefix="/api/v1", dependencies=[Depends(api_caller)], responses=PROBLEM_RESPONSES)


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items``, and ``total`` to know how many pages there are."""

    items: list[T]
    total: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]


def _db(request: Request) -> Database:
    return state(request).db


# --- company -----------------------------------------------------------------------------------


@router.get("/company", response_model=people_store.Company, tags=["company"])
async def get_company(request: Request, caller: ApiCaller) -> people_store.Company:
    """The caller's company."""
    async with _db(request).connection(caller.company_id) as conn:
        company = await people_store.get_company(conn, caller.company_id)
    if company is None:
        raise not_found("company")
    return company


# --- roles -------------------------------------------------------------------------------------


class RoleSkillIn(Input):
    skill_name: str = Field(min_length=1, max_length=200)
    required_level: int = Field(ge=1, le=5)
    importance: int = Field(default=3, ge=1, le=5)


class RoleIn(Input):
    """A role and the skills it requires (level 1–5, importance 1–5)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    skills: list[RoleSkillIn] = Field(default_factory=list, max_length=200)

    @field_validator("skills")
    @classmethod
    def _unique_skills(cls, skills: list[RoleSkillIn]) -> list[RoleSkillIn]:
        names = [s.skill_name.casefold() for s in skills]
        if len(set(names)) != len(names):
            raise ValueError("a skill is listed twice")
        return skills


@router.get("/roles", response_model=Page[people_store.Role], tags=["people"])
async def list_roles(request: Request, caller: ApiCaller, limit: Limit = 50, offset: Offset = 0) -> Page[Any]:
    async with _db(request).connection(caller.company_id) as conn:
        roles = await people_store.list_roles(conn, caller.company_id)
    return Page(items=roles[offset : offset + limit], total=len(roles), limit=limit, offset=offset)


@router.post("/roles", status_code=201, response_model=people_store.Role, tags=["people"])
async def create_role(request: Request, caller: ApiCaller, role: RoleIn) -> people_store.Role:
    return await _save_role(request, caller.company_id, role, None)


@router.get("/roles/{role_id}", response_model=people_store.Role, tags=["people"])
async def get_role(request: Request, caller: ApiCaller, role_id: uuid.UUID) -> people_store.Role:
    async with _db(request).connection(caller.company_id) as conn:
        role = await people_store.get_role(conn, caller.company_id, role_id)
    if role is None:
        raise not_found("role")
    return role


@router.put("/roles/{role_id}", response_model=people_store.Role, tags=["people"])
async def update_role(request: Request, caller: ApiCaller, role_id: uuid.UUID, role: RoleIn) -> people_store.Role:
    return await _save_role(request, caller.company_id, role, role_id)


async def _save_role(
    request: Request, company_id: uuid.UUID, role: RoleIn, role_id: uuid.UUID | None
) -> people_store.Role:
    async with _db(request).transaction(company_id) as conn:
        if role_id is not None and await people_store.get_role(conn, company_id, role_id) is None:
            raise not_found("role")
        if await people_store.role_name_taken(conn, company_id, role.name, except_id=role_id):
            raise Problem(409, f"a role named {role.name!r} exists already", title="Conflict")
        saved = await people_store.save_role(
            conn,
            company_id,
            name=role.name,
            description=role.description,
            skills=[people_store.RoleSkill(**s.model_dump()) for s in role.skills],
            role_id=role_id,
        )
    if saved is None:
        raise not_found("role")
    return saved


# --- employees ---------------------------------------------------------------------------------


class SkillIn(Input):
    skill_name: str = Field(min_length=1, max_length=200)
    level: int = Field(ge=0, le=5)


class EmployeeIn(Input):
    """An employee: current skills (level 0–5), role and the role they grow into (ids of the company's roles)."""

    full_name: str = Field(min_length=1, max_length=300)
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    """The id another system (an HR system) knows the employee by."""
    email: str | None = Field(default=None, max_length=320)
    department: str | None = Field(default=None, max_length=200)
    position: str | None = Field(default=None, max_length=200)
    current_role_id: uuid.UUID | None = None
    target_role_id: uuid.UUID | None = None
    is_active: bool = True
    skills: list[SkillIn] = Field(default_factory=list, max_length=200)

    @field_validator("skills")
    @classmethod
    def _unique_skills(cls, skills: list[SkillIn]) -> list[SkillIn]:
        names = [s.skill_name.casefold() for s in skills]
        if len(set(names)) != len(names):
            raise ValueError("a skill is listed twice")
        return skills

    def to_input(self) -> people_store.EmployeeInput:
        data = self.model_dump()
        data["skills"] = tuple(people_store.EmployeeSkill(**s) for s in data["skills"])
        return people_store.EmployeeInput(**data)


class EmployeeUpsert(EmployeeIn):
    external_id: str = Field(min_length=1, max_length=200)


class BulkUpsert(BaseModel):
    """Employees by ``external_id``: each is created or replaced; sending the same list again changes nothing."""

    employees: list[EmployeeUpsert] = Field(min_length=1, max_length=1000)


class BulkResult(BaseModel):
    created: int
    updated: int
    employees: list[people_store.Employee]


class ImportResultOut(BaseModel):
    imported: int
    created: int
    updated: int


def _unknown_role() -> Problem:
    return Problem(422, "current_role_id or target_role_id is not one of your company's roles", title="Unknown role")


@router.get("/employees", response_model=Page[people_store.Employee], tags=["people"])
async def list_employees(
    request: Request,
    caller: ApiCaller,
    limit: Limit = 50,
    offset: Offset = 0,
    role_id: Annotated[uuid.UUID | None, Query(description="Only employees in this role.")] = None,
) -> Page[Any]:
    async with _db(request).connection(caller.company_id) as conn:
        items, total = await people_store.list_employees(
            conn, caller.company_id, limit=limit, offset=offset, role_id=role_id
        )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post("/employees", status_code=201, response_model=people_store.Employee, tags=["people"])
async def create_employee(request: Request, caller: ApiCaller, employee: EmployeeIn) -> people_store.Employee:
    async with _db(request).transaction(caller.company_id) as conn:
        await _check_external_id(conn, caller.company_id, employee.external_id, None)
        try:
            return await people_store.create_employee(conn, caller.company_id, employee.to_input())
        except people_store.ForeignRoleError:
            raise _unknown_role() from None


async def _check_external_id(conn: Any, company_id: uuid.UUID, external_id: str | None, own: uuid.UUID | None) -> None:
    if external_id is None:
        return
    holder = await people_store.employee_id_by_external_id(conn, company_id, external_id)
    if holder is not None and holder != own:
        raise Problem(409, f"another employee has the external id {external_id!r}", title="Conflict")


@router.put("/employees/bulk", response_model=BulkResult, tags=["people"])
async def bulk_upsert(request: Request, caller: ApiCaller, body: BulkUpsert) -> BulkResult:
    """Create or replace employees by ``external_id`` in one transaction (idempotent), for HR systems."""
    ids = [e.external_id for e in body.employees]
    if len(set(ids)) != len(ids):
        raise Problem(422, "an external_id is listed twice", title="Invalid request")
    created = updated = 0
    saved = []
    async with _db(request).transaction(caller.company_id) as conn:
        for employee in body.employees:
            try:
                row, was_created = await people_store.upsert_employee(conn, caller.company_id, employee.to_input())
            except people_store.ForeignRoleError:
                raise Problem(422, f"employee {employee.external_id!r}: unknown role", title="Unknown role") from None
            saved.append(row)
            created += was_created
            updated += not was_created
    return BulkResult(created=created, updated=updated, employees=saved)


@router.post(
    "/employees/import",
    response_model=ImportResultOut,
    tags=["people"],
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                },
            },
            "required": True,
        }
    },
)
async def import_csv(request: Request, caller: ApiCaller) -> ImportResultOut:
    """Import employees from a CSV (the body as ``text/csv``, or a ``file`` form field): all rows or none.

    A file with problems answers 422 with ``errors``: each with its ``line``, ``column`` and ``message``.
    """
    data = await read_csv_body(request)
    result = await import_employees(_db(request), caller.company_id, data, max_rows=state(request).gateway.max_csv_rows)
    if not result.parsed.valid:
        raise csv_problem(result.parsed.all_errors)
    return ImportResultOut(imported=result.imported, created=result.created, updated=result.updated)


def csv_problem(errors: list[RowError]) -> Problem:
    shown = "; ".join(f"line {e.line}{f', {e.column}' if e.column else ''}: {e.message}" for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return Problem(
        422,
        f"nothing was imported: {shown}{more}",
        title="The file has problems",
        type_="https://coursegen.dev/problems/csv-invalid",
        errors=[e.model_dump() for e in errors],
    )


async def read_csv_body(request: Request) -> bytes:
    limit = state(request).gateway.max_upload_bytes
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, str) and upload is not None:
                return await read_limited(upload, limit)
        raise Problem(422, "send the CSV as a form field named 'file', or as a text/csv body", title="No file")
    if content_type and not content_type.startswith(("text/", "application/octet-stream")):
        raise Problem(415, f"send the CSV as text/csv, not {content_type}", title="Unsupported Media Type")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Problem(413, f"the file is larger than {limit // 1024} KiB", title="Content Too Large")
    return bytes(body)


@router.get("/employees/{employee_id}", response_model=people_store.Employee, tags=["people"])
async def get_employee(request: Request, caller: ApiCaller, employee_id: uuid.UUID) -> people_store.Employee:
    async with _db(request).connection(caller.company_id) as conn:
        employee = await people_store.get_employee(conn, caller.company_id, employee_id)
    if employee is None:
        raise not_found("employee")
    return employee


@router.put("/employees/{employee_id}", response_model=people_store.Employee, tags=["people"])
async def update_employee(
    request: Request, caller: ApiCaller, employee_id: uuid.UUID, employee: EmployeeIn
) -> people_store.Employee:
    async with _db(request).transaction(caller.company_id) as conn:
        if await people_store.get_employee(conn, caller.company_id, employee_id) is None:
            raise not_found("employee")
        await _check_external_id(conn, caller.company_id, employee.external_id, employee_id)
        try:
            saved = await people_store.update_employee(conn, caller.company_id, employee_id, employee.to_input())
        except people_store.ForeignRoleError:
            raise _unknown_role() from None
    if saved is None:
        raise not_found("employee")
    return saved


# --- knowledge base ----------------------------------------------------------------------------


class DocumentDetail(BaseModel):
    document: doc_store.Document
    passages: list[doc_store.PassageView]


class SearchHit(BaseModel):
    passage_id: uuid.UUID
    document_id: uuid.UUID
    document: str
    heading: str
    content: str
    rank: float


@router.get("/documents", response_model=Page[doc_store.Document], tags=["knowledge base"])
async def list_documents(request: Request, caller: ApiCaller, limit: Limit = 50, offset: Offset = 0) -> Page[Any]:
    async with _db(request).connection(caller.company_id) as conn:
        items, total = await doc_store.list_documents(conn, caller.company_id, limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post("/documents", status_code=201, response_model=doc_store.Document, tags=["knowledge base"])
async def upload_document(
    request: Request, caller: ApiCaller, file: Annotated[UploadFile, File(description="Markdown, text, PDF or .docx")]
) -> doc_store.Document:
    data = await read_limited(file, state(request).gateway.max_upload_bytes)
    document_id, _ = await ingest_upload(_db(request), caller.company_id, file.filename or "", data)
    async with _db(request).connection(caller.company_id) as conn:
        document = await doc_store.get_document(conn, caller.company_id, document_id)
    assert document is not None
    return document


@router.get("/documents/search", response_model=list[SearchHit], tags=["knowledge base"])
async def search_documents(
    request: Request,
    caller: ApiCaller,
    q: Annotated[str, Query(min_length=1, max_length=500, description="Words to look for.")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[SearchHit]:
    async with _db(request).connection(caller.company_id) as conn:
        hits = await kb.search(conn, caller.company_id, q, limit=limit)
    return [SearchHit(**{k: getattr(h, k) for k in SearchHit.model_fields}) for h in hits]


@router.get("/documents/{document_id}", response_model=DocumentDetail, tags=["knowledge base"])
async def get_document(request: Request, caller: ApiCaller, document_id: uuid.UUID) -> DocumentDetail:
    async with _db(request).connection(caller.company_id) as conn:
        document = await doc_store.get_document(conn, caller.company_id, document_id)
        if document is None:
            raise not_found("document")
        passages = await doc_store.document_passages(conn, caller.company_id, document_id)
    return DocumentDetail(document=document, passages=passages)


@router.delete("/documents/{document_id}", status_code=204, tags=["knowledge base"])
async def delete_document(request: Request, caller: ApiCaller, document_id: uuid.UUID) -> None:
    """Delete one of the company's documents and its passages (courses keep the text they cite)."""
    async with _db(request).transaction(caller.company_id) as conn:
        if not await doc_store.delete_document(conn, caller.company_id, document_id):
            raise not_found("document")


# --- jobs --------------------------------------------------------------------------------------


class JobIn(Input):
    """Which employees get a course: all active ones, those in a role, or a list of ids."""

    employees: Literal["all", "role", "selected"] = "all"
    role_id: uuid.UUID | None = None
    """With ``employees: role``."""
    employee_ids: list[uuid.UUID] = Field(default_factory=list, max_length=5000)
    """With ``employees: selected``."""
    token_budget: int | None = Field(default=None, gt=0, le=10**12)
    """Most tokens the whole job may spend."""
    review_outline: bool = Field(default=False, strict=True)
    """Each course run waits for a person to approve its outline before the writing starts."""


class JobAccepted(BaseModel):
    job_id: uuid.UUID
    event_id: uuid.UUID
    """The ``coursegen.job.requested`` event published for it."""
    employees: int
    status_url: str
    events_url: str


class JobDetail(BaseModel):
    job: reads.JobView
    runs: list[reads.RunView]


class Accepted(BaseModel):
    job_id: uuid.UUID
    action: str


@router.post("/jobs", status_code=202, response_model=JobAccepted, tags=["jobs"])
async def create_job(
    request: Request,
    caller: ApiCaller,
    job: JobIn,
    idempotency_key: Annotated[
        uuid.UUID | None, Header(description="A UUID: the same key is the same request.")
    ] = None,
) -> JSONResponse:
    """Publish ``coursegen.job.requested``; the job id comes back at once (202), the work follows."""
    accepted = await submit(request, caller, job, idempotency_key)
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202, headers={"Location": accepted.status_url})


async def submit(request: Request, caller: Any, job: JobIn, event_id: uuid.UUID | None = None) -> JobAccepted:
    """Resolve the employees (the caller's company only), then publish the request."""
    company_id = caller.company_id
    async with _db(request).connection(company_id) as conn:
        if event_id is not None:
            # The company's own earlier request (row-level security shows no other); another company's
            # is only a yes or no.
            earlier = await job_request_by_event(conn, event_id)
            if earlier is not None:
                return _accepted(earlier[1], event_id, earlier[2])
            if await job_request_key_taken_elsewhere(conn, event_id):
                raise Problem(409, "this Idempotency-Key was used already; send a new one", title="Conflict")
        if job.employees == "all":
            ids = await people_store.active_employee_ids(conn, company_id)
            chosen: list[uuid.UUID] | None = None
        elif job.employees == "role":
            if job.role_id is None or await people_store.get_role(conn, company_id, job.role_id) is None:
                raise Problem(422, "choose one of your company's roles", title="Unknown role")
            ids = chosen = await people_store.active_employee_ids(conn, company_id, role_id=job.role_id)
        else:
            wanted = list(dict.fromkeys(job.employee_ids))
            ids = chosen = await people_store.employees_by_ids(conn, company_id, wanted)
            if len(ids) != len(wanted):
                raise Problem(
                    422, "some of the employees are not active employees of your company", title="Unknown employee"
                )
    if not ids:
        raise Problem(422, "no active employees to generate courses for", title="No employees")
    event = await commands.request_job(
        state(request).js,
        company_id=company_id,
        employee_ids=chosen,
        token_budget=job.token_budget,
        requested_by=caller.user_id,
        event_id=event_id,
        review_outline=job.review_outline,
    )
    assert event.job_id is not None
    async with _db(request).transaction(company_id) as conn:
        await record_job_request(
            conn,
            company_id,
            job_id=event.job_id,
            event_id=event.event_id,
            requested_by=caller.user_id,
            employees=len(ids),
            token_budget=job.token_budget,
        )
    return _accepted(event.job_id, event.event_id, len(ids))


def _accepted(job_id: uuid.UUID, event_id: uuid.UUID, employees: int) -> JobAccepted:
    return JobAccepted(
        job_id=job_id,
        event_id=event_id,
        employees=employees,
        status_url=f"/api/v1/jobs/{job_id}",
        events_url=f"/api/v1/jobs/{job_id}/events",
    )


@router.get("/jobs", response_model=Page[reads.JobView], tags=["jobs"])
async def list_jobs(request: Request, caller: ApiCaller, limit: Limit = 50, offset: Offset = 0) -> Page[Any]:
    async with _db(request).connection(caller.company_id) as conn:
        items, total = await reads.list_jobs(conn, caller.company_id, limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/jobs/{job_id}", response_model=JobDetail, tags=["jobs"])
async def get_job(request: Request, caller: ApiCaller, job_id: uuid.UUID) -> JobDetail:
    detail = await views.job_detail(_db(request), caller.company_id, job_id)
    if detail is None:
        raise not_found("job")
    return JobDetail(job=detail.job, runs=detail.runs)


@router.get("/jobs/{job_id}/report", response_model=views.JobReport, tags=["jobs"])
async def job_report(request: Request, caller: ApiCaller, job_id: uuid.UUID) -> views.JobReport:
    """Tokens, cost and time per stage and employee, and the token reduction (what ``coursegen report`` shows)."""
    report = await views.job_report(_db(request), caller.company_id, job_id, state(request).settings.prices)
    if report is None:
        raise not_found("job")
    return report


async def _control(request: Request, caller: Any, job_id: uuid.UUID, action: str, reason: str) -> JSONResponse:
    async with _db(request).connection(caller.company_id) as conn:
        if await reads.get_job(conn, caller.company_id, job_id) is None:
            raise not_found("job")
    await commands.control_job(
        state(request).js, company_id=caller.company_id, job_id=job_id, action=action, reason=reason
    )
    return JSONResponse(Accepted(job_id=job_id, action=action).model_dump(mode="json"), status_code=202)


class CancelIn(Input):
    reason: str = Field(default="cancelled through the API", max_length=1000)


@router.post("/jobs/{job_id}/resume", status_code=202, response_model=Accepted, tags=["jobs"])
async def resume_job(request: Request, caller: ApiCaller, job_id: uuid.UUID) -> JSONResponse:
    """Publish ``coursegen.job.resume``: failed and stalled course runs continue from their last stored output."""
    return await _control(request, caller, job_id, "resume", "")


@router.post("/jobs/{job_id}/cancel", status_code=202, response_model=Accepted, tags=["jobs"])
async def cancel_job(
    request: Request, caller: ApiCaller, job_id: uuid.UUID, body: Annotated[CancelIn | None, Body()] = None
) -> JSONResponse:
    """Publish ``coursegen.job.cancel``: stages stop taking the job's work; finished work stays."""
    return await _control(request, caller, job_id, "cancel", (body or CancelIn()).reason)


@router.get(
    "/jobs/{job_id}/events",
    tags=["jobs"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "Events"}},
)
async def job_events(
    request: Request,
    caller: ApiCaller,
    job_id: uuid.UUID,
    last_event_id: Annotated[str | None, Header(description="Resume after this event.")] = None,
) -> StreamingResponse:
    """Server-sent events: ``event`` (each bus event of the job, its id the stream sequence) and ``job``
    (the job and its course runs, as ``GET /jobs/{id}``), ending with ``end`` once the job is over."""
    if await views.job_detail(_db(request), caller.company_id, job_id) is None:
        raise not_found("job")
    stream = views.sse_stream(
        request,
        caller.company_id,
        job_id,
        _last_id(last_event_id),
        render_event=views.event_json,
        snapshot=("job", "json", views.detail_json),
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=views.SSE_HEADERS)


def _last_id(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


# --- courses -----------------------------------------------------------------------------------


@router.get("/courses", response_model=Page[reads.CourseSummary], tags=["courses"])
async def list_courses(
    request: Request,
    caller: ApiCaller,
    limit: Limit = 50,
    offset: Offset = 0,
    job_id: uuid.UUID | None = None,
    employee_id: uuid.UUID | None = None,
) -> Page[Any]:
    async with _db(request).connection(caller.company_id) as conn:
        items, total = await reads.list_courses(
            conn, caller.company_id, job_id=job_id, employee_id=employee_id, limit=limit, offset=offset
        )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/courses/{course_id}", response_model=reads.CourseRecord, tags=["courses"])
async def get_course(request: Request, caller: ApiCaller, course_id: uuid.UUID) -> reads.CourseRecord:
    async with _db(request).connection(caller.company_id) as conn:
        course = await reads.get_course(conn, caller.company_id, course_id)
    if course is None:
        raise not_found("course")
    return course


@router.get(
    "/courses/{course_id}/export",
    tags=["courses"],
    response_class=Response,
    responses={200: {"description": "The course packaged for an LMS, or as one offline HTML file."}},
)
async def export_course_file(
    request: Request,
    caller: ApiCaller,
    course_id: uuid.UUID,
    format: Annotated[
        ExportFormat,
        Query(description="scorm12, scorm2004 (zip packages for an LMS), qti (the quizzes as an item bank), html"),
    ],
    pass_mark: Annotated[int, Query(ge=0, le=100, description="Percent of quiz questions to pass.")] = (
        DEFAULT_PASS_MARK
    ),
) -> Response:
    """Download the course as a SCORM 1.2 or 2004 package, a QTI item bank, or a standalone HTML player."""
    return await course_file(_db(request), caller.company_id, course_id, format, pass_mark)
