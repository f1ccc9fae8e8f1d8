"""``coursegen trace JOB``: a job's handoffs as a waterfall, from the database alone.

One block per course run: each handoff to a stage is a row, starting when it
was handed off and lasting until that stage handed on (or stored its output),
with the tokens its agent spent. No Jaeger needed; when ``COURSEGEN_JAEGER_UI_URL``
is set, each course also gets a link to its trace there.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from coursegen.cli._common import out, parse_uuid, read_job, read_settings
from coursegen.shared.store import Database, connect
from coursegen.shared.store.reports import find_job
from coursegen.shared.store.timeline import CourseTimeline, JobTimeline, Step, load_timeline

__all__ = ["CourseTimeline", "JobTimeline", "Step", "load_timeline", "render", "trace"]

BAR_WIDTH = 32


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
            # The operator's command acts on any job: the timeline is read in the job's own company.
            job = await find_job(conn, job_id)
            return await load_timeline(conn, job.company_id, job_id) if job else None
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
