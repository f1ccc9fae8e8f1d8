"""Errors as RFC 9457 problem details (``application/problem+json``) for the API, and as a page for people."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("coursegen.gateway")

PROBLEM_JSON = "application/problem+json"


class ProblemDetail(BaseModel):
    """An RFC 9457 problem: what went wrong, for people (``title``, ``detail``) and programs (``type``, ``status``)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class RowError(BaseModel):
    """One problem in an uploaded file: where (line and column) and what."""

    line: int
    """1-based line of the file (the header is line 1)."""
    column: str | None
    """The column's name, when the problem is in one column."""
    message: str


class Problem(Exception):
    """Raise to answer with a problem; ``extra`` fields are added to the body (e.g. ``errors``)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers
        self.extra = extra


def not_found(what: str) -> Problem:
    # Another company's thing and a thing that does not exist read the same.
    return Problem(404, f"no such {what}", title="Not Found")


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetail, "content": {PROBLEM_JSON: {}}, "description": HTTPStatus(code).phrase}
    for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}


def problem_response(request: Request, problem: Problem) -> Response:
    body = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        **problem.extra,
    }
    if not request.url.path.startswith("/api/"):
        from coursegen.gateway.pages import error_page  # pages import this module

        return error_page(request, problem.status, problem.title, problem.detail, problem.extra.get("errors"))
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def _documented_methods(request: Request, *, literal_only: bool = False) -> set[str]:
    """The methods the OpenAPI document lists for this path (FastAPI makes one route per method, so the route
    that matched knows only its own). A path written out in full wins over a template that also matches it."""
    literal: set[str] = set()
    templated: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            found = {m.upper() for m in operations if m in ("get", "put", "post", "delete", "patch")}
            (templated if "{" in template else literal).update(found)
    methods = literal or (set() if literal_only else templated)
    if "GET" in methods:
        methods.add("HEAD")
    return methods


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    loc = [str(p) for p in error.get("loc", ())]
    return {"location": ".".join(loc), "message": error.get("msg", "invalid")}


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> Response:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        literal = _documented_methods(request, literal_only=True)
        if literal and request.method not in literal:
            # e.g. DELETE /documents/search reached DELETE /documents/{document_id}: the method is what is wrong.
            allow = {"Allow": ", ".join(sorted(literal))}
            return problem_response(request, Problem(405, "Method Not Allowed", headers=allow))
        errors = [_describe(e) for e in exc.errors()]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5]) or "invalid request"
        return problem_response(request, Problem(422, detail, title="Invalid request", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such page or resource"
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # FastAPI makes one route per method: the route that matched knows only its own.
            headers["Allow"] = ", ".join(sorted(_documented_methods(request)))
        return problem_response(request, Problem(exc.status_code, detail, headers=headers or None))

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, Problem(500, "something went wrong on our side; it was logged"))
