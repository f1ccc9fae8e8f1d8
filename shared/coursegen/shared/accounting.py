"""What a job's agents spent, and how much less that is than a chain of SDK handoffs.

The token reduction
-------------------
Every stage here runs a fresh agent whose input is references (ids); its tools
fetch the slice of stored data it needs. The alternative it is measured against
is a chain of Agents SDK handoffs, where each agent takes over the conversation
so far and every model call re-sends all of it.

For each course run (``session_id``), take its successful agent runs in the
order they were stored (``created_at``). Then

    actual          = Σᵢ input_tokensᵢ
    counterfactual  = Σᵢ (input_tokensᵢ + turnsᵢ × Σ_{j<i} transcript_tokensⱼ)
    reduction       = 1 − actual / counterfactual

summed over the job's course runs. ``input_tokens`` is what each model call was
sent, summed over the run's calls (the provider's usage; for the offline model,
tiktoken counts of instructions, tool schemas and input per call).
``transcript_tokens`` is the tiktoken count of a run's whole conversation, its
input and every item it produced: what a handoff would pass on. ``turns`` is the
run's model calls, each of which would re-send the inherited history.

Re-runs (``status = 'discarded'``: work another replica stored first) and
failed runs are left out of the reduction: neither side of the comparison
would have them. They are counted, and priced, on their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coursegen.shared.store import Connection
from coursegen.shared.store.reports import AgentRunUsage, agent_run_usage, course_runs_of_job, find_job
from coursegen.shared.subjects import STAGES


@dataclass(frozen=True)
class RunTokens:
    """The token figures of one successful agent run that the reduction needs."""

    session_id: str
    input_tokens: int
    turns: int
    transcript_tokens: int
    stage: str = ""


@dataclass(frozen=True)
class Reduction:
    actual: int
    """Input tokens the agents were sent."""
    counterfactual: int
    """Input tokens a chain of SDK handoffs would have sent."""

    @property
    def ratio(self) -> float | None:
        """1 − actual / counterfactual; None when nothing ran."""
        return 1 - self.actual / self.counterfactual if self.counterfactual else None

    def __add__(self, other: Reduction) -> Reduction:
        return Reduction(self.actual + other.actual, self.counterfactual + other.counterfactual)


def handoff_chain_tokens(runs: Sequence[RunTokens]) -> int:
    """Input tokens of one course run's agents had each inherited every earlier conversation.

    ``runs`` are the course run's successful agent runs in the order they ran.
    """
    total = 0
    history = 0
    for run in runs:
        total += run.input_tokens + run.turns * history
        history += run.transcript_tokens
    return total


def handoff_chain_terms(runs: Sequence[RunTokens]) -> list[int]:
    """:func:`handoff_chain_tokens` run by run: what each run would have been sent in the chain.

    The terms add up to ``handoff_chain_tokens(runs)``; they let a stage's share be reported.
    """
    terms = []
    history = 0
    for run in runs:
        terms.append(run.input_tokens + run.turns * history)
        history += run.transcript_tokens
    return terms


def token_reduction(runs: Iterable[RunTokens]) -> Reduction:
    """The reduction over any number of course runs; ``runs`` in the order they ran."""
    sessions: dict[str, list[RunTokens]] = {}
    for run in runs:
        sessions.setdefault(run.session_id, []).append(run)
    reduction = Reduction(0, 0)
    for session_runs in sessions.values():
        actual = sum(r.input_tokens for r in session_runs)
        reduction += Reduction(actual, handoff_chain_tokens(session_runs))
    return reduction


def price_of(model: str, prices: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    """USD per million (input, output) tokens of a model, by its full name or its name without the provider."""
    for name in (model, model.partition(":")[2], model.rpartition("/")[2]):
        if name and name in prices:
            return prices[name]
    return None


@dataclass
class Tally:
    """What a group of agent runs spent."""

    runs: int = 0
    """Successful runs: the work that stands."""
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: int = 0
    reruns: int = 0
    """Runs whose output was discarded because another delivery stored the same work first."""
    rerun_tokens: int = 0
    failed_runs: int = 0
    failed_tokens: int = 0
    """Tokens the model calls of failed runs spent before the run failed."""
    cost_usd: float = 0.0
    """Estimated cost of every run that spent tokens, re-runs included (models with a price only)."""
    unpriced_models: set[str] = field(default_factory=set)

    def add(self, row: Mapping[str, Any], prices: dict[str, tuple[float, float]]) -> None:
        """Count a run given as a mapping with ``status``, ``model``, tokens and ``duration_ms``."""
        self._count(row["status"], row["model"], row["input_tokens"], row["output_tokens"], row["duration_ms"], prices)

    def add_run(self, run: AgentRunUsage, prices: dict[str, tuple[float, float]]) -> None:
        self._count(run.status, run.model, run.input_tokens, run.output_tokens, run.duration_ms, prices)

    def _count(
        self,
        status: str,
        model: str,
        spent_in: int,
        spent_out: int,
        duration_ms: int,
        prices: dict[str, tuple[float, float]],
    ) -> None:
        if status == "succeeded":
            self.runs += 1
            self.input_tokens += spent_in
            self.output_tokens += spent_out
            self.duration_ms += duration_ms
        elif status == "discarded":
            self.reruns += 1
            self.rerun_tokens += spent_in + spent_out
        else:
            self.failed_runs += 1
            self.failed_tokens += spent_in + spent_out
        if spent_in or spent_out:
            price = price_of(model, prices)
            if price is None:
                self.unpriced_models.add(model)
            else:
                self.cost_usd += (spent_in * price[0] + spent_out * price[1]) / 1_000_000


@dataclass
class StageTokens:
    """Where a stage's input tokens went (successful runs), and its share of the reduction."""

    sent: int = 0
    """Input tokens the stage's agents were sent."""
    instructions: int = 0
    schemas: int = 0
    """Tool definitions and output schemas."""
    tool_results: int = 0
    repeats: int = 0
    """What turns after the first re-sent."""
    turns: int = 0
    counterfactual: int = 0
    """What the stage's runs would have been sent in a chain of SDK handoffs."""

    @property
    def other(self) -> int:
        """The rest of ``sent``: prompts and the model's own tool calls (and, with a real model, framing)."""
        return self.sent - self.instructions - self.schemas - self.tool_results - self.repeats

    @property
    def reduction(self) -> Reduction:
        return Reduction(self.sent, self.counterfactual)


def stage_tokens(rows: Iterable[AgentRunUsage]) -> dict[str, StageTokens]:
    """Per stage, over successful agent runs in the order they ran (see :class:`StageTokens`)."""
    sessions: dict[str, list[AgentRunUsage]] = {}
    by_stage: dict[str, StageTokens] = {}
    for row in rows:
        if row.status != "succeeded":
            continue
        sessions.setdefault(row.session_id, []).append(row)
        t = by_stage.setdefault(row.stage, StageTokens())
        t.sent += row.input_tokens
        t.instructions += row.instruction_tokens
        t.schemas += row.schema_tokens
        t.tool_results += row.tool_result_tokens
        t.repeats += row.repeat_tokens
        t.turns += row.turns
    for session_rows in sessions.values():
        runs = [RunTokens(r.session_id, r.input_tokens, r.turns, r.transcript_tokens) for r in session_rows]
        for row, term in zip(session_rows, handoff_chain_terms(runs), strict=True):
            by_stage[row.stage].counterfactual += term
    return by_stage


@dataclass
class CourseUsage:
    """One course run (one employee) of the job."""

    session_id: str
    employee_name: str
    status: str
    tally: Tally
    reduction: Reduction


@dataclass
class JobUsage:
    job_id: uuid.UUID
    status: str
    by_stage: dict[str, Tally]
    courses: list[CourseUsage]
    total: Tally
    reduction: Reduction
    models: list[str]
    tokens_by_stage: dict[str, StageTokens] = field(default_factory=dict)
    """Where the input tokens went, per stage, in pipeline order."""


async def job_usage(conn: Connection, job_id: uuid.UUID, prices: dict[str, tuple[float, float]]) -> JobUsage | None:
    """Every agent run of a job, summed per stage and per course run, with the token reduction."""
    job = await find_job(conn, job_id)
    if job is None:
        return None
    courses = {
        c.session_id: CourseUsage(
            session_id=c.session_id,
            employee_name=c.employee_name or str(c.employee_id),
            status=c.status,
            tally=Tally(),
            reduction=Reduction(0, 0),
        )
        for c in await course_runs_of_job(conn, job.company_id, job_id)
    }
    runs = await agent_run_usage(conn, job.company_id, job_id)
    by_stage: dict[str, Tally] = {stage: Tally() for stage in STAGES}
    total = Tally()
    for run in runs:
        by_stage.setdefault(run.stage, Tally()).add_run(run, prices)
        total.add_run(run, prices)
        course = courses.get(run.session_id)
        if course is not None:
            course.tally.add_run(run, prices)
    succeeded = [
        RunTokens(r.session_id, r.input_tokens, r.turns, r.transcript_tokens) for r in runs if r.status == "succeeded"
    ]
    for course in courses.values():
        course.reduction = token_reduction(r for r in succeeded if r.session_id == course.session_id)
    return JobUsage(
        job_id=job_id,
        status=job.status,
        by_stage={stage: tally for stage, tally in by_stage.items() if tally.runs or tally.reruns or tally.failed_runs},
        courses=list(courses.values()),
        total=total,
        reduction=token_reduction(succeeded),
        models=sorted({r.model for r in runs}),
        tokens_by_stage=_in_stage_order(stage_tokens(runs)),
    )


def _in_stage_order(by_stage: dict[str, StageTokens]) -> dict[str, StageTokens]:
    order: dict[str, int] = {stage: i for i, stage in enumerate(STAGES)}
    return dict(sorted(by_stage.items(), key=lambda item: order.get(item[0], len(order))))
