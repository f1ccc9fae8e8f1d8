"""Commands against a running stack: ``generate``, ``status``, ``migrate``, ``resume``, ``cancel``."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer

from coursegen.cli._common import EXIT_FAILED, fail, out, parse_uuid, read_job, read_settings, require
from coursegen.cli._render import job_table, runs_table, summary_table
from coursegen.shared.events import JobControl
from coursegen.shared.nats_auth import CLIENT, connect_options
from coursegen.shared.store import Database, connect
from coursegen.shared.store.errors import DATABASE_ERRORS
from coursegen.shared.store.reports import JobState, find_job, job_state
from coursegen.shared.subjects import JOB_CANCEL, JOB_RESUME
from coursegen.stack.follow import SubmitError, follow_job, publish_event, submit_job
from coursegen.stack.migrate import MigrationError
from coursegen.stack.migrate import migrate as apply_migrations

JobId = Annotated[
    uuid.UUID, typer.Argument(parser=parse_uuid, metavar="JOB", help="The job id (a UUID).", show_default=False)
]


def generate(
    company: Annotated[
        uuid.UUID,
        typer.Option("--company", parser=parse_uuid, metavar="ID", help="The company's id.", show_default=False),
    ],
    employee: Annotated[
        list[uuid.UUID] | None,
        typer.Option(
            "--employee",
            parser=parse_uuid,
            metavar="ID",
            help="An employee's id; repeat for several. Default: every active employee.",
        ),
    ] = None,
    token_budget: Annotated[
        int | None, typer.Option(min=1, help="Most tokens the whole job may spend.", show_default=False)
    ] = None,
    review_outline: Annotated[
        bool,
        typer.Option(
            "--review-outline",
            help="Each course run waits for a person to approve its outline (in the app's Review "
            "page, or with coursegen review outline) before the writing starts.",
        ),
    ] = False,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Show progress until the job ends.")] = True,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to follow before giving up.")] = 3600.0,
) -> None:
    """Ask a running stack for courses, and follow the job (exit 0 when it completes)."""
    settings = read_settings()
    require(settings, "nats_url", *(("database_url",) if follow else ()))
    assert settings.nats_url
    console = out()
    try:
        request, job_id = asyncio.run(
            submit_job(
                settings.nats_url,
                company,
                employee or None,
                token_budget,
                options=connect_options(settings, CLIENT),
                review_outline=review_outline,
            )
        )
    except SubmitError as exc:
        fail(str(exc))
    console.print(f"job [bold]{job_id}[/] requested (event {request.event_id})")
    if review_outline:
        console.print(
            "each outline waits for review: approve it in the app's Review page, or with "
            "coursegen review outline RUN --approve"
        )
    if not follow or review_outline:
        console.print(f"follow it with: coursegen status {job_id}")
        return
    assert settings.database_url
    try:
        summary = asyncio.run(
            follow_job(
                settings.database_url, job_id, console=console, timeout=timeout, request_event_id=request.event_id
            )
        )
    except DATABASE_ERRORS as exc:
        fail(f"cannot follow the job in the database: {exc}; the job {job_id} was requested all the same")
    console.print(summary_table(summary))
    if summary.status != "completed":
        raise typer.Exit(EXIT_FAILED)


async def _load(database_url: str, job_id: uuid.UUID) -> JobState | None:
    db = Database(await connect(database_url, min_size=1, max_size=1))
    try:
        async with db.connection() as conn:
            return await job_state(conn, job_id)
    finally:
        await db.close()


def status(job: JobId) -> None:
    """Show a job: status, progress, counts, timings, errors, and its course runs."""
    state = read_job(lambda url: _load(url, job), job)
    console = out()
    console.print(job_table(state))
    if state.runs:
        console.print(runs_table(state))


def migrate() -> None:
    """Apply pending migrations as COURSEGEN_MIGRATE_DATABASE_URL (the owner role), else COURSEGEN_DATABASE_URL."""
    settings = read_settings()
    if not settings.migrate_database_url:
        require(settings, "database_url")
    url = settings.migrate_database_url or settings.database_url
    assert url
    try:
        output = apply_migrations(url)
    except MigrationError as exc:
        fail(str(exc))
    applied = [line.removeprefix("Applied: ") for line in output.splitlines() if line.startswith("Applied:")]
    console = out()
    if not applied:
        console.print("database is up to date")
    for line in applied:
        console.print(f"applied {line}")


async def _job_company(database_url: str, job_id: uuid.UUID) -> uuid.UUID | None:
    db = Database(await connect(database_url, min_size=1, max_size=1))
    try:
        async with db.connection() as conn:
            found = await find_job(conn, job_id)
    finally:
        await db.close()
    return found.company_id if found else None


def _control(subject: str, job: uuid.UUID, reason: str) -> None:
    settings = read_settings()
    require(settings, "nats_url")
    assert settings.nats_url
    # A control event names its company, which the coordinator checks against the job's own.
    company = read_job(lambda url: _job_company(url, job), job)
    event = JobControl(job_id=job, company_id=company, reason=reason, source="cli")
    try:
        body = event.model_dump_json().encode()
        options = connect_options(settings, CLIENT)
        asyncio.run(publish_event(settings.nats_url, subject, body, str(event.event_id), options=options))
    except SubmitError as exc:
        fail(str(exc))


def resume(job: JobId) -> None:
    """Re-drive a job's failed and stalled course runs from their last stored output."""
    _control(JOB_RESUME, job, "")
    out().print(f"resume of job {job} requested; follow it with: coursegen status {job}")


def cancel(
    job: JobId,
    reason: Annotated[str, typer.Option(help="Why, kept on the job.")] = "cancelled from the command line",
) -> None:
    """Stop a job: stages stop taking its work; finished work stays."""
    _control(JOB_CANCEL, job, reason)
    out().print(f"cancel of job {job} requested; see: coursegen status {job}")
