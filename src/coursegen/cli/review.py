"""People in the loop from the command line.

``review outline``, ``review module``, ``publish``, ``versions`` and ``audit``.

Review decisions are sent as events (the coordinator applies them, checked against the
run's company); publishing, listing and the audit trail go through the same domain
functions as the web app. An operator with database access acts as the company that
owns the course or run.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from coursegen.cli._common import EXIT_USAGE, fail, out, parse_uuid, read_settings, require
from coursegen.shared.events import Event, ModuleReview, OutlineReview
from coursegen.shared.review import actions
from coursegen.shared.store import Database, connect, runs, versions
from coursegen.shared.store.errors import DATABASE_ERRORS
from coursegen.shared.subjects import REVIEW_MODULE, REVIEW_OUTLINE
from coursegen.stack.follow import SubmitError, publish_event

T = TypeVar("T")

app = typer.Typer(name="review", help="Approve or reject a waiting outline; approve or rework a module.")

CourseId = Annotated[
    uuid.UUID, typer.Argument(parser=parse_uuid, metavar="COURSE", help="The course id (a UUID).", show_default=False)
]
Reviewer = Annotated[str, typer.Option("--by", help="Who decides, for the audit trail.")]
Comment = Annotated[str, typer.Option("--comment", help="Why; required to reject or request changes.")]


def _me() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _with_db(work: Callable[[Database], Awaitable[T]]) -> T:
    settings = read_settings()
    require(settings, "database_url")
    assert settings.database_url

    async def run() -> T:
        assert settings.database_url
        pool = await connect(settings.database_url, min_size=1, max_size=2)
        try:
            return await work(Database(pool))
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    except actions.NotFound as exc:
        fail(f"not found: {exc}")
    except actions.Refused as exc:
        fail(str(exc))
    except DATABASE_ERRORS as exc:
        fail(f"cannot reach the database: {exc}")


def _send(subject: str, event: Event) -> None:
    settings = read_settings()
    require(settings, "nats_url")
    assert settings.nats_url
    try:
        asyncio.run(publish_event(settings.nats_url, subject, event.model_dump_json().encode(), str(event.event_id)))
    except SubmitError as exc:
        fail(str(exc))


async def _company_of_run(db: Database, session_id: str) -> uuid.UUID:
    async with db.connection() as conn:
        run = await runs.get_run(conn, session_id)
    if run is None:
        raise actions.NotFound(f"no course run {session_id}")
    return run.company_id


async def _company_of_course(db: Database, course_id: uuid.UUID) -> uuid.UUID:
    async with db.connection() as conn:
        company_id = await versions.company_of_course(conn, course_id)
    if company_id is None:
        raise actions.NotFound(f"no course {course_id}")
    return company_id


@app.command()
def outline(
    run: Annotated[str, typer.Argument(metavar="RUN", help="The course run (session id) waiting for review.")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve the outline as planned.")] = False,
    reject: Annotated[
        bool, typer.Option("--reject", help="Reject it: the planner plans again from the comment.")
    ] = False,
    comment: Comment = "",
    by: Reviewer = "",
) -> None:
    """Approve a waiting outline, or reject it with a comment (the run is re-planned from it)."""
    if approve == reject:
        fail("give exactly one of --approve and --reject", EXIT_USAGE)
    if reject and not comment.strip():
        fail("--reject needs --comment: it is what the planner plans from", EXIT_USAGE)
    company_id = _with_db(lambda db: _company_of_run(db, run))
    event = OutlineReview(
        company_id=company_id,
        session_id=run,
        reviewer=by or _me(),
        decision="approve" if approve else "reject",
        comment=comment,
        source="cli",
    )
    _send(REVIEW_OUTLINE, event)
    out().print(f"outline of run {run} {'approved' if approve else 'rejected'} (event {event.event_id})")


@app.command()
def module(
    course: CourseId,
    module_index: Annotated[int, typer.Argument(metavar="MODULE", min=0, help="The module's index, from 0.")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve the module.")] = False,
    request_changes: Annotated[
        bool, typer.Option("--request-changes", help="Send the module back to the writer with the comment.")
    ] = False,
    comment: Comment = "",
    by: Reviewer = "",
) -> None:
    """Approve a module of the course's latest version, or request changes (that module alone is redone)."""
    if approve == request_changes:
        fail("give exactly one of --approve and --request-changes", EXIT_USAGE)
    if request_changes and not comment.strip():
        fail("--request-changes needs --comment: it is what the writer works from", EXIT_USAGE)

    async def target(db: Database) -> tuple[uuid.UUID, str]:
        company_id = await _company_of_course(db, course)
        listed = await actions.list_versions(db, company_id, course)
        if not listed:
            raise actions.NotFound(f"course {course} has no version yet")
        return company_id, listed[-1].session_id

    company_id, session_id = _with_db(target)
    event = ModuleReview(
        company_id=company_id,
        session_id=session_id,
        module_index=module_index,
        reviewer=by or _me(),
        decision="approve" if approve else "request_changes",
        comment=comment,
        source="cli",
    )
    _send(REVIEW_MODULE, event)
    what = "approved" if approve else "sent back with changes requested; a new draft version follows"
    out().print(f"module {module_index} of course {course} {what} (event {event.event_id})")


def publish(
    course: CourseId,
    version: Annotated[int, typer.Argument(metavar="VERSION", min=1, help="The version number.")],
    override: Annotated[
        str | None,
        typer.Option("--override", metavar="REASON", help="Publish despite flagged claims; the reason is recorded."),
    ] = None,
    by: Reviewer = "",
) -> None:
    """Publish a draft version: learners see it from now on (their progress carries over)."""

    async def work(db: Database) -> versions.VersionSummary:
        company_id = await _company_of_course(db, course)
        return await actions.publish_version(db, company_id, course, version, actor=by or _me(),
                                             override_reason=override)  # fmt: skip

    published = _with_db(work)
    note = f" (override: {published.override_reason})" if published.override_reason else ""
    out().print(f"version {published.version} of course {course} is published{note}")


def versions_(course: CourseId) -> None:
    """List a course's versions: status, origin, who made and published them, flagged claims."""

    async def work(db: Database) -> list[tuple[versions.VersionSummary, int]]:
        company_id = await _company_of_course(db, course)
        listed = await actions.list_versions(db, company_id, course)
        return [(v, len(await actions.claim_flags(db, company_id, course, v.version))) for v in listed]

    rows = _with_db(work)
    table = Table("version", "status", "origin", "made by", "made at", "published by", "flagged claims")
    for v, flags in rows:
        table.add_row(
            str(v.version), v.status, v.origin, v.created_by, f"{v.created_at:%Y-%m-%d %H:%M}", v.published_by or "",
            str(flags),
        )  # fmt: skip
    out().print(table)


def audit(
    course: CourseId,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output, for a spreadsheet.")] = False,
) -> None:
    """The course's audit trail: who approved, edited, rejected, published and overrode what, and when."""

    async def work(db: Database) -> list[actions.AuditEntry]:
        return await actions.audit_trail(db, await _company_of_course(db, course), course)

    entries = _with_db(work)
    if as_csv:
        sys.stdout.write(actions.audit_csv(entries))
        return
    table = Table("at", "actor", "action", "details")
    for e in entries:
        details = ", ".join(f"{k}={v}" for k, v in e.details.items() if k != "event_id")
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, details)
    out().print(table)
