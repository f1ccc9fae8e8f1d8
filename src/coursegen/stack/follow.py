"""Submitting a job and following it to the end.

A client only publishes ``coursegen.job.requested``; everything it can learn
afterwards is in the database (the tracker keeps the job row current and
records every event, also the coordinator's rejection). So following a job is
polling PostgreSQL, which works the same against the embedded stack and a
production one, and survives a restarted NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn

from coursegen.shared.events import JobRequested
from coursegen.shared.nats_auth import inbox_prefix, strip_userinfo
from coursegen.shared.store import Database, connect
from coursegen.shared.store.errors import TRANSIENT_DATABASE_ERRORS
from coursegen.shared.store.reports import (
    TERMINAL_JOB_STATUSES,
    JobState,
    RunState,
    job_output_counts,
    job_state,
    rejection_reason,
)
from coursegen.shared.subjects import JOB_REQUESTED, STREAM

POLL_SECONDS = 0.3
PLAIN_LINE_SECONDS = 1.0
PLAIN_HEARTBEAT_SECONDS = 15.0


class SubmitError(RuntimeError):
    """The request could not be published; the message says why."""


# --- submitting --------------------------------------------------------------------------------


async def submit_job(
    nats_url: str,
    company_id: uuid.UUID,
    employee_ids: Sequence[uuid.UUID] | None,
    token_budget: int | None = None,
    *,
    timeout: float = 10.0,
    options: Mapping[str, Any] | None = None,
    review_outline: bool = False,
) -> tuple[JobRequested, uuid.UUID]:
    """Publish ``coursegen.job.requested`` and wait for JetStream's ack.

    ``employee_ids=None`` asks for every active employee of the company. The
    job id is chosen here, so the caller can follow the job before the
    coordinator has seen the request.
    """
    job_id = uuid.uuid4()
    event = JobRequested(
        job_id=job_id,
        company_id=company_id,
        employee_ids=list(employee_ids or []),
        all_employees=employee_ids is None,
        token_budget=token_budget,
        review_outline=review_outline,
        source="cli",
    )
    body = event.model_dump_json().encode()
    await publish_event(nats_url, JOB_REQUESTED, body, str(event.event_id), timeout=timeout, options=options)
    return event, job_id


async def publish_event(
    nats_url: str,
    subject: str,
    body: bytes,
    msg_id: str,
    *,
    timeout: float = 10.0,
    options: Mapping[str, Any] | None = None,
) -> None:
    """Publish one event to the stream (deduplicated by ``msg_id``), from a short-lived connection.

    ``options`` are nats-py's connect options (``nats_auth.connect_options``: credentials, TLS, inbox);
    without them, the user in the URL (if any) replies on its own inbox.
    """

    async def quiet(exc: Exception) -> None:
        # Failures surface as exceptions below; nats-py would also log each one.
        return None

    servers = [url.strip() for url in nats_url.split(",") if url.strip()]
    connect = dict(options or {})
    servers = connect.pop("servers", servers)
    if "inbox_prefix" not in connect and (who := urlsplit(servers[0]).username):
        connect["inbox_prefix"] = inbox_prefix(who)
    shown = ",".join(strip_userinfo(url) for url in servers)
    try:
        nc = await nats.connect(
            **connect,
            servers=servers,
            connect_timeout=min(timeout, 5.0),
            max_reconnect_attempts=2,
            allow_reconnect=False,
            error_cb=quiet,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise SubmitError(f"cannot connect to NATS at {shown}: {exc or type(exc).__name__}") from exc
    try:
        js = nc.jetstream()
        try:
            await js.publish(subject, body, timeout=timeout, stream=STREAM, headers={"Nats-Msg-Id": msg_id})
        except (
            nats.errors.NoRespondersError,
            nats.js.errors.NoStreamResponseError,
            nats.js.errors.NotFoundError,
        ) as exc:
            raise SubmitError(
                f"NATS at {shown} has no {STREAM} stream yet: start the services first (coursegen up)"
            ) from exc
        except (nats.errors.TimeoutError, TimeoutError) as exc:
            raise SubmitError(f"NATS at {shown} did not acknowledge the message within {timeout:.0f} s") from exc
        except nats.js.errors.Error as exc:
            raise SubmitError(f"NATS refused the message: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


# --- following ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedRun:
    employee_id: uuid.UUID
    employee_name: str
    stage: str | None
    kind: str | None
    message: str | None


@dataclass(frozen=True)
class JobSummary:
    """How a followed job ended (or how far it got)."""

    job_id: uuid.UUID
    status: str
    """The job's status; ``rejected`` when the coordinator refused it, ``unknown`` when no job appeared."""
    elapsed_seconds: float
    employees: int = 0
    courses: int = 0
    """Assembled courses of the job."""
    modules: int = 0
    """Modules in those courses."""
    handoffs: int = 0
    """Events the tracker recorded for the job (``cm_agent_handoffs``)."""
    failed: list[FailedRun] = field(default_factory=list)
    rejection_reason: str | None = None
    error_message: str | None = None
    timed_out: bool = False
    stopped_reason: str | None = None
    """Why following stopped early (e.g. a service process died)."""
    current_phase: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_JOB_STATUSES

    @property
    def complete(self) -> bool:
        """Completed, with one course per employee."""
        return self.status == "completed" and self.employees > 0 and self.courses == self.employees


class _Display(Protocol):
    def waiting(self, elapsed: float, note: str = "") -> None: ...
    def show(self, job: JobState, elapsed: float, note: str = "") -> None: ...
    def finish(self, job: JobState | None, elapsed: float) -> None: ...


async def follow_job(
    database_url: str,
    job_id: uuid.UUID,
    *,
    console: Console,
    timeout: float,
    request_event_id: uuid.UUID | None = None,
    stop_when: Callable[[], str | None] | None = None,
) -> JobSummary:
    """Show the job's progress until it ends, is rejected, ``stop_when`` returns a reason, or ``timeout``.

    ``request_event_id`` (the request's ``event_id``) finds a rejection even
    when the request named no usable job id.
    """
    started = time.monotonic()
    db = Database(await connect(database_url, min_size=1, max_size=2))
    job: JobState | None = None
    rejection: str | None = None
    stopped: str | None = None
    timed_out = False
    try:
        with _display_for(console, job_id) as display:
            while True:
                elapsed = time.monotonic() - started
                note = ""
                try:
                    async with db.connection() as conn:
                        job = await job_state(conn, job_id)
                        if job is None:
                            rejection = await rejection_reason(conn, job_id, request_event_id)
                except TRANSIENT_DATABASE_ERRORS as exc:
                    note = f"database unavailable ({type(exc).__name__}); retrying"
                if job is not None:
                    display.show(job, elapsed, note)
                else:
                    display.waiting(elapsed, note)
                if rejection is not None or (job is not None and job.terminal):
                    break
                if stop_when is not None and (stopped := stop_when()) is not None:
                    break
                if elapsed > timeout:
                    timed_out = True
                    break
                await asyncio.sleep(POLL_SECONDS)
            display.finish(job, time.monotonic() - started)
        return await _summarize(
            db, job_id, job, time.monotonic() - started, rejection=rejection, timed_out=timed_out, stopped=stopped
        )
    finally:
        await db.close()


async def _summarize(
    db: Database,
    job_id: uuid.UUID,
    job: JobState | None,
    elapsed: float,
    *,
    rejection: str | None,
    timed_out: bool,
    stopped: str | None,
) -> JobSummary:
    if job is None:
        return JobSummary(
            job_id=job_id,
            status="rejected" if rejection is not None else "unknown",
            elapsed_seconds=elapsed,
            rejection_reason=rejection,
            timed_out=timed_out,
            stopped_reason=stopped,
        )
    async with db.connection() as conn:
        counts = await job_output_counts(conn, job.company_id, job_id)
    failed = [
        FailedRun(r.employee_id, r.employee_name, r.error_stage, r.error_kind, r.error_message)
        for r in job.runs
        if r.status == "failed"
    ]
    return JobSummary(
        job_id=job_id,
        status=job.status,
        elapsed_seconds=elapsed,
        employees=job.total_employees,
        courses=counts.courses,
        modules=counts.modules,
        handoffs=counts.handoffs,
        failed=failed,
        error_message=job.error_message,
        timed_out=timed_out,
        stopped_reason=stopped,
        current_phase=job.current_phase,
    )


# --- displays ----------------------------------------------------------------------------------

_STATUS_STYLE = {
    "completed": "green",
    "no_gaps": "green",
    "completed_with_errors": "yellow",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "pending": "dim",
}


def _run_detail(run: RunState) -> str:
    style = _STATUS_STYLE.get(run.status, "")
    parts = [f"[{style}]{run.status}[/]" if style else run.status]
    if run.status == "failed":
        parts.append(f"{run.error_stage or '?'}: {(run.error_message or '')[:80]}")
    elif not run.terminal and run.current_stage:
        parts.append(run.current_stage)
    if run.modules_total is not None:
        parts.append(f"{run.modules_done}/{run.modules_total} modules")
    return " · ".join(parts)


def _job_detail(job: JobState) -> str:
    style = _STATUS_STYLE.get(job.status, "")
    status = f"[{style}]{job.status}[/]" if style else job.status
    phase = f" · {job.current_phase}" if job.current_phase and not job.terminal else ""
    return f"{status}{phase} · {job.successful_courses}/{job.total_employees} courses"


class _LiveDisplay:
    """Rich progress bars: the job on top, one bar per employee below."""

    def __init__(self, console: Console, job_id: uuid.UUID) -> None:
        self.progress = Progress(
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description}", style="bold"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            refresh_per_second=8,
        )
        self.job_task = self.progress.add_task(
            f"job {str(job_id)[:8]}", total=100, detail="waiting for the coordinator"
        )
        self.run_tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _LiveDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def waiting(self, elapsed: float, note: str = "") -> None:
        self.progress.update(self.job_task, detail=note or "waiting for the coordinator")

    def show(self, job: JobState, elapsed: float, note: str = "") -> None:
        detail = _job_detail(job) + (f" · [yellow]{note}[/]" if note else "")
        self.progress.update(self.job_task, completed=job.progress_percentage, detail=detail)
        if job.terminal:
            self.progress.stop_task(self.job_task)
        for run in job.runs:
            task = self.run_tasks.get(run.session_id)
            if task is None:
                task = self.progress.add_task(f"  {run.employee_name}", total=100, detail="")
                self.run_tasks[run.session_id] = task
            self.progress.update(task, completed=run.progress_percentage, detail=_run_detail(run))
            if run.terminal:
                self.progress.stop_task(task)

    def finish(self, job: JobState | None, elapsed: float) -> None:
        self.progress.refresh()


class _PlainDisplay:
    """Lines for logs and pipes, where bars would be noise: on a change (at most one a second), else a heartbeat."""

    def __init__(self, console: Console, job_id: uuid.UUID) -> None:
        self.console = console
        self.job_id = job_id
        self.last_state = ""
        self.last_at = float("-inf")

    def __enter__(self) -> _PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _emit(self, state: str, elapsed: float, *, force: bool = False) -> None:
        now = time.monotonic()
        since = now - self.last_at
        changed = state != self.last_state
        if not force and (since < PLAIN_LINE_SECONDS or (not changed and since < PLAIN_HEARTBEAT_SECONDS)):
            return
        if force and not changed:
            return
        self.console.print(
            f"[{elapsed:6.1f}s] job {str(self.job_id)[:8]} {state}", markup=False, highlight=False, soft_wrap=True
        )
        self.last_state, self.last_at = state, now

    @staticmethod
    def _state(job: JobState | None, note: str) -> str:
        if job is None:
            text = "waiting for the coordinator"
        else:
            counts: dict[str, int] = {}
            for run in job.runs:
                counts[run.status] = counts.get(run.status, 0) + 1
            runs = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            phase = f" ({job.current_phase})" if job.current_phase and not job.terminal else ""
            text = f"{job.status} {job.progress_percentage}%{phase} · runs: {runs or 'none yet'}"
        return f"{text} · {note}" if note else text

    def waiting(self, elapsed: float, note: str = "") -> None:
        self._emit(self._state(None, note), elapsed)

    def show(self, job: JobState, elapsed: float, note: str = "") -> None:
        self._emit(self._state(job, note), elapsed, force=job.terminal)

    def finish(self, job: JobState | None, elapsed: float) -> None:
        if job is None:
            return
        self._emit(self._state(job, ""), elapsed, force=True)
        for run in job.runs:
            if run.status == "failed":
                self.console.print(
                    f"  {run.employee_name}: failed at {run.error_stage}: {run.error_message}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )


@contextlib.contextmanager
def _display_for(console: Console, job_id: uuid.UUID) -> Iterator[_Display]:
    display: _LiveDisplay | _PlainDisplay = (
        _LiveDisplay(console, job_id) if console.is_terminal else _PlainDisplay(console, job_id)
    )
    with display:
        yield display
