"""Views of jobs shared by the pages and the API: a job with its runs, its usage report, its live stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel

from coursegen.gateway.feed import FeedEvent, Snapshot
from coursegen.gateway.state import state
from coursegen.shared.accounting import JobUsage, Reduction, Tally, job_usage
from coursegen.shared.store import Database
from coursegen.shared.store import gateway_reads as reads
from coursegen.shared.store.timeline import CourseTimeline, JobTimeline, load_timeline

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
KEEPALIVE_SECONDS = 15.0
TERMINAL = ("completed", "completed_with_errors", "failed", "cancelled", "rejected")


@dataclass(frozen=True)
class JobDetail:
    job: reads.JobView
    runs: list[reads.RunView]
    stages: dict[str, dict[str, int]]

    @property
    def finished(self) -> bool:
        return self.job.status in TERMINAL


async def job_detail(db: Database, company_id: uuid.UUID, job_id: uuid.UUID) -> JobDetail | None:
    async with db.connection(company_id) as conn:
        job = await reads.get_job(conn, company_id, job_id)
        if job is None:
            return None
        runs = await reads.job_runs(conn, company_id, job_id)
        stages = await reads.stages_done(conn, company_id, job_id)
    return JobDetail(job=job, runs=runs, stages=stages)


class TallyOut(BaseModel):
    runs: int
    input_tokens: int
    output_tokens: int
    duration_ms: int
    reruns: int
    rerun_tokens: int
    failed_runs: int
    failed_tokens: int
    cost_usd: float
    unpriced_models: list[str]

    @classmethod
    def of(cls, tally: Tally) -> TallyOut:
        return cls(**{**tally.__dict__, "unpriced_models": sorted(tally.unpriced_models)})


class CourseUsageOut(BaseModel):
    session_id: str
    employee_name: str
    status: str
    tally: TallyOut
    reduction: float | None


class JobReport(BaseModel):
    """What ``coursegen report`` shows: tokens, time and cost per stage and employee, and the token reduction."""

    job_id: uuid.UUID
    status: str
    models: list[str]
    by_stage: dict[str, TallyOut]
    courses: list[CourseUsageOut]
    total: TallyOut
    input_tokens_sent: int
    """Input tokens the agents were sent."""
    input_tokens_chained: int
    """Input tokens a chain of SDK handoffs (each agent inheriting the whole conversation) would have sent."""
    token_reduction: float | None

    @classmethod
    def of(cls, usage: JobUsage) -> JobReport:
        return cls(
            job_id=usage.job_id,
            status=usage.status,
            models=usage.models,
            by_stage={stage: TallyOut.of(t) for stage, t in usage.by_stage.items()},
            courses=[
                CourseUsageOut(
                    session_id=c.session_id,
                    employee_name=c.employee_name,
                    status=c.status,
                    tally=TallyOut.of(c.tally),
                    reduction=c.reduction.ratio,
                )
                for c in usage.courses
            ],
            total=TallyOut.of(usage.total),
            input_tokens_sent=usage.reduction.actual,
            input_tokens_chained=usage.reduction.counterfactual,
            token_reduction=usage.reduction.ratio,
        )


async def job_report(
    db: Database, company_id: uuid.UUID, job_id: uuid.UUID, prices: dict[str, tuple[float, float]]
) -> JobReport | None:
    async with db.connection(company_id) as conn:
        if not await reads.job_belongs(conn, company_id, job_id):
            requested = await reads.get_job(conn, company_id, job_id)
            if requested is None:
                return None
            # Requested, not created yet (or refused): nothing spent.
            return JobReport.of(JobUsage(job_id, requested.status, {}, [], Tally(), Reduction(0, 0), []))
        usage = await job_usage(conn, job_id, prices)
    return None if usage is None else JobReport.of(usage)


def event_json(event: FeedEvent) -> str:
    keep = (
        "subject",
        "employee_id",
        "session_id",
        "module_index",
        "stage",
        "from_stage",
        "kind",
        "message",
        "reason",
        "status",
        "title",
        "occurred_at",
    )
    data = {k: event.data.get(k) for k in keep if event.data.get(k) is not None}
    data["subject"] = event.subject
    return json.dumps(data)


def _frame(name: str, data: str, event_id: int | None = None) -> str:
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return "\n".join(lines) + "\n\n"


async def sse_stream(
    request: Request,
    company_id: uuid.UUID,
    job_id: uuid.UUID,
    last_event_id: int | None,
    *,
    render_event: Callable[[FeedEvent], str],
    snapshot: tuple[str, str, Callable[[Any], str]],
) -> AsyncIterator[str]:
    """The job's live stream: missed events after ``last_event_id``, the state now, then every change; ``end``
    once the job is over. ``snapshot`` is (SSE event name, render cache key, renderer of a ``JobDetail``)."""
    name, kind, render_snapshot = snapshot
    feed = state(request).feed
    yield "retry: 2000\n\n"
    async with feed.watch(company_id, job_id, last_event_id=last_event_id) as queue:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keepalive\n\n"
                continue
            if isinstance(item, FeedEvent):
                yield _frame("event", render_event(item), item.seq)
            elif isinstance(item, Snapshot) and isinstance(item.value, JobDetail):
                yield _frame(name, item.render(kind, render_snapshot))
                if item.value.finished:
                    yield _frame("end", "{}")
                    return


def detail_json(detail: JobDetail) -> str:
    return json.dumps(
        {"job": detail.job.model_dump(mode="json"), "runs": [r.model_dump(mode="json") for r in detail.runs]}
    )


@dataclass(frozen=True)
class WaterfallRow:
    stage: str
    module: str
    start_seconds: float
    seconds: float | None
    tokens: str
    left_pct: float
    width_pct: float


@dataclass(frozen=True)
class CourseWaterfall:
    course: CourseTimeline
    rows: list[WaterfallRow]


def waterfall(timeline: JobTimeline) -> list[CourseWaterfall]:
    """The same timeline ``coursegen trace`` draws, as positions for bars on a page."""
    out = []
    for course in timeline.courses:
        rows = []
        if course.steps:
            start = min(s.started_at for s in course.steps)
            span = max(0.001, max(((s.ended_at or s.started_at) - start).total_seconds() for s in course.steps))
            for step in course.steps:
                offset = (step.started_at - start).total_seconds()
                module = "-" if step.module_index is None else str(step.module_index + 1)
                module += f" r{step.revision}" if step.revision else ""
                tokens = "-" if step.input_tokens is None else f"{step.input_tokens:,}/{step.output_tokens or 0:,}"
                width = 0.5 if step.seconds is None else max(0.5, step.seconds / span * 100)
                rows.append(
                    WaterfallRow(
                        step.stage,
                        module,
                        offset,
                        step.seconds,
                        tokens,
                        offset / span * 100,
                        min(width, 100 - offset / span * 100),
                    )
                )
        out.append(CourseWaterfall(course, rows))
    return out


async def job_waterfall(db: Database, company_id: uuid.UUID, job_id: uuid.UUID) -> list[CourseWaterfall]:
    async with db.connection(company_id) as conn:
        timeline = await load_timeline(conn, company_id, job_id)
    return waterfall(timeline) if timeline else []
