"""``coursegen trace JOB``: a job's handoffs as a waterfall, from the database alone.

One block per course run: each handoff to a stage is a row, starting when it
was handed off and lasting until that stage handed on (or stored its output),
with the tokens its agent spent. No Jaeger needed; when ``COURSEGEN_JAEGER_UI_URL``
is set, each course also gets a link to its trace there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import typer

from coursegen.cli._common import out, parse_uuid, read_job, read_settings
from coursegen.shared.store import Connection, Database, connect
from coursegen.shared.store.reports import TraceHandoff, find_job, trace_courses, trace_handoffs

BAR_WIDTH = 32


@dataclass(frozen=True)
class Step:
    """One handoff to a stage, and how long until that stage handed on."""

    stage: str
    module_index: int | None
    revision: int
    epoch: int
    started_at: datetime
    ended_at: datetime | None
    input_tokens: int | None
    output_tokens: int | None
    trace_id: str | None

    @property
    def seconds(self) -> float | None:
        return None if self.ended_at is None else max(0.0, (self.ended_at - self.started_at).total_seconds())


@dataclass
class CourseTimeline:
    session_id: str
    employee_name: str
    status: str
    modules_total: int | None
    error: str | None
    steps: list[Step] = field(default_factory=list)

    @property
    def trace_ids(self) -> list[str]:
        """The course's traces, oldest first (a resume starts a new one)."""
        return list(dict.fromkeys(s.trace_id for s in self.steps if s.trace_id))

    @property
    def tokens(self) -> tuple[int, int]:
        return sum(s.input_tokens or 0 for s in self.steps), sum(s.output_tokens or 0 for s in self.steps)


@dataclass
class JobTimeline:
    job_id: uuid.UUID
    status: str
    courses: list[CourseTimeline]


async def load_timeline(conn: Connection, job_id: uuid.UUID) -> JobTimeline | None:
    job = await find_job(conn, job_id)
    if job is None:
        return None
    courses = {
        c.session_id: CourseTimeline(
            session_id=c.session_id,
            employee_name=c.employee_name or "?",
            status=c.status,
            modules_total=c.modules_total,
            error=f"{c.error_stage}: {c.error_message}" if c.error_message else None,
        )
        for c in await trace_courses(conn, job.company_id, job_id)
    }
    for handoff in await trace_handoffs(conn, job.company_id, job_id):
        course = courses.get(handoff.session_id)
        if course is None:
            continue
        course.steps.append(_step(handoff))
    return JobTimeline(job_id=job_id, status=job.status, courses=list(courses.values()))


def _step(handoff: TraceHandoff) -> Step:
    return Step(
        stage=handoff.stage,
        module_index=handoff.module_index,
        revision=handoff.revision,
        epoch=handoff.epoch,
        started_at=handoff.occurred_at,
        ended_at=handoff.handed_on_at or handoff.stored_at,
        input_tokens=handoff.input_tokens,
        output_tokens=handoff.output_tokens,
        trace_id=handoff.trace_id,
    )


def render(timeline: JobTimeline, jaeger_ui_url: str | None = None) -> list[str]:
    """The waterfall as lines of plain text."""
    lines = [f"job {timeline.job_id} · {timeline.status} · {len(timeline.courses)} course run(s)"]
    for course in timeline.courses:
        lines.append("")
        lines.extend(_render_course(course, jaeger_ui_url))
    return lines


def _render_course(course: CourseTimeline, jaeger_ui_url: str | None) -> list[str]:
    tokens_in, tokens_out = course.tokens
    header = f"course {course.session_id} · {course.employee_name} · {course.status}"
    if course.steps:
        start = min(s.started_at for s in course.steps)
        end = max(s.ended_at or s.started_at for s in course.steps)
        header += f" · {(end - start).total_seconds():.2f} s · {tokens_in:,} in / {tokens_out:,} out tokens"
    lines = [header]
    for trace_id in course.trace_ids:
        link = f"  {jaeger_ui_url.rstrip('/')}/trace/{trace_id}" if jaeger_ui_url else ""
        lines.append(f"  trace {trace_id}{link}")
    if course.error:
        lines.append(f"  failed at {course.error}")
    if not course.steps:
        lines.append("  (no handoffs recorded)")
        return lines
    start = min(s.started_at for s in course.steps)
    span = max(0.001, max(((s.ended_at or s.started_at) - start).total_seconds() for s in course.steps))
    lines.append(f"  {'stage':<11} {'module':<8} {'start':>8} {'duration':>9} {'tokens in/out':>15}  timeline")
    for step in course.steps:
        offset = (step.started_at - start).total_seconds()
        seconds = step.seconds
        duration = "waiting" if seconds is None else f"{seconds:.2f} s"
        lines.append(
            f"  {step.stage:<11} {_module(step):<8} {f'+{offset:.2f} s':>8} {duration:>9} {_tokens(step):>15}"
            f"  |{_bar(offset, seconds, span)}|"
        )
    return lines


def _module(step: Step) -> str:
    text = "-" if step.module_index is None else str(step.module_index)
    if step.revision:
        text += f"·r{step.revision}"
    if step.epoch:
        text += f"·e{step.epoch}"
    return text


def _tokens(step: Step) -> str:
    if step.input_tokens is None:
        return "-"
    return f"{step.input_tokens:,}/{step.output_tokens or 0:,}"


def _bar(offset: float, seconds: float | None, span: float) -> str:
    begin = min(BAR_WIDTH - 1, int(offset / span * BAR_WIDTH))
    length = 1 if seconds is None else max(1, round(seconds / span * BAR_WIDTH))
    mark = "·" if seconds is None else "█"
    length = min(length, BAR_WIDTH - begin)
    return " " * begin + mark * length + " " * (BAR_WIDTH - begin - length)


async def _load(database_url: str, job_id: uuid.UUID) -> JobTimeline | None:
    db = Database(await connect(database_url, min_size=1, max_size=1))
    try:
        async with db.connection() as conn:
            return await load_timeline(conn, job_id)
    finally:
        await db.close()


def trace(
    job: Annotated[
        uuid.UUID, typer.Argument(parser=parse_uuid, metavar="JOB", help="The job id (a UUID).", show_default=False)
    ],
) -> None:
    """Show a job's handoffs as a waterfall per course: stage, module, start, duration, tokens."""
    timeline = read_job(lambda url: _load(url, job), job)
    console = out()
    for line in render(timeline, read_settings().jaeger_ui_url):
        console.print(line, markup=False, highlight=False)
