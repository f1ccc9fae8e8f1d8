"""``coursegen report JOB``: what a job's agents spent, per stage and per employee, and the token reduction.

The figures come from ``agent_runs`` alone; the definitions (and the reduction's
formula) are in :mod:`coursegen.shared.accounting`.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from coursegen.cli._common import out, parse_uuid, read_job, read_settings
from coursegen.cli._render import styled
from coursegen.shared.accounting import JobUsage, Reduction, StageTokens, Tally, job_usage
from coursegen.shared.store import Database, connect


async def _load(database_url: str, job_id: uuid.UUID, prices: dict[str, tuple[float, float]]) -> JobUsage | None:
    db = Database(await connect(database_url, min_size=1, max_size=1))
    try:
        async with db.connection() as conn:
            return await job_usage(conn, job_id, prices)
    finally:
        await db.close()


def reduction_line(database_url: str, job_id: uuid.UUID) -> str | None:
    """One line on the job's token reduction, for commands that end with a job (``demo``)."""
    usage = asyncio.run(_load(database_url, job_id, {}))
    if usage is None or usage.reduction.ratio is None:
        return None
    r = usage.reduction
    return (
        f"{r.actual:,} input tokens sent to the agents, {r.counterfactual:,} with chained SDK handoffs: "
        f"{_percent(r)} fewer"
    )


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


def _cost(tally: Tally) -> str:
    text = f"{tally.cost_usd:.4f}"
    return f"{text} + ?" if tally.unpriced_models else text


def _percent(reduction: Reduction) -> str:
    ratio = reduction.ratio
    return "-" if ratio is None else f"{ratio:.1%}"


def _table(title: str) -> Table:
    # Compact: nine columns must fit an 80-column terminal.
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, title_style="bold")


def _columns(table: Table, *names: str) -> None:
    for name in names:
        table.add_column(name, justify="right", no_wrap=True)


def _figures(tally: Tally) -> list[str]:
    return [
        str(tally.runs),
        f"{tally.input_tokens:,}",
        f"{tally.output_tokens:,}",
        _seconds(tally.duration_ms),
        _cost(tally),
        f"{tally.rerun_tokens:,}" + (f" ({tally.reruns})" if tally.reruns else ""),
    ]


_FIGURES = ("agent\nruns", "input\ntokens", "output\ntokens", "time", "cost\nUSD", "re-run\ntokens")


def stage_table(usage: JobUsage) -> Table:
    table = _table("By stage")
    table.add_column("stage", no_wrap=True)
    _columns(table, *_FIGURES)
    for stage, tally in usage.by_stage.items():
        table.add_row(stage, *_figures(tally))
    table.add_section()
    table.add_row("[bold]total[/]", *_figures(usage.total))
    return table


_SENT = ("instruc-\ntions", "schemas", "tool\nresults", "other", "repeats", "sent", "chained", "reduc-\ntion")


def _sent_figures(t: StageTokens) -> list[str]:
    parts = (t.instructions, t.schemas, t.tool_results, t.other, t.repeats, t.sent, t.counterfactual)
    return [f"{n:,}" for n in parts] + [_percent(t.reduction)]


def sent_table(usage: JobUsage) -> Table:
    """Where each stage's input tokens went, and the stage's share of the reduction."""
    table = _table("Tokens sent, by stage")
    table.add_column("stage", no_wrap=True)
    _columns(table, *_SENT)
    total = StageTokens()
    for stage, t in usage.tokens_by_stage.items():
        table.add_row(stage, *_sent_figures(t))
        for name in ("sent", "instructions", "schemas", "tool_results", "repeats", "turns", "counterfactual"):
            setattr(total, name, getattr(total, name) + getattr(t, name))
    table.add_section()
    table.add_row("[bold]total[/]", *_sent_figures(total))
    return table


def employee_table(usage: JobUsage) -> Table:
    table = _table("By employee")
    table.add_column("employee", no_wrap=True)
    _columns(table, *_FIGURES, "token\nreduction")
    for course in usage.courses:
        # Only an unusual ending is worth the width.
        name = escape(course.employee_name)
        if course.status != "completed":
            name += f" ({styled(course.status)})"
        table.add_row(name, *_figures(course.tally), _percent(course.reduction))
    return table


def report(
    job: Annotated[
        uuid.UUID, typer.Argument(parser=parse_uuid, metavar="JOB", help="The job id (a UUID).", show_default=False)
    ],
) -> None:
    """What a job's agents spent, per stage and per employee, and the token reduction.

    Per stage and per employee: successful agent runs, their input and output
    tokens and time; the estimated cost of every run that spent tokens (USD per
    million tokens from COURSEGEN_PRICES, over defaults for OpenAI models; "+ ?"
    when a model has no price); and re-run tokens, spent on work another
    delivery had stored first (agent_runs.status 'discarded'). Failed runs are
    counted apart, with the tokens their model calls spent before they failed.

    The token reduction compares the input tokens the agents were sent with
    what a chain of Agents SDK handoffs would have sent, in which each agent
    inherits the whole conversation so far and every model call re-sends it.
    For each course run, over its successful agent runs in the order stored:

      actual  = Σ input_tokens
      chained = Σ (input_tokens + turns × transcript_tokens of all earlier runs)
      reduction = 1 − actual / chained, both summed over the job's course runs

    Transcripts are counted with tiktoken, as are the offline model's inputs.

    "Tokens sent, by stage" splits each stage's input tokens: instructions,
    schemas (tool definitions and the output schema) and tool results as first
    sent; other (the prompt and the model's own tool calls); and repeats, what
    every turn after the first sent again. "chained" is the stage's share of
    the chained-handoff figure (each run's term of the sum above), "reduction"
    1 − sent / chained.
    """
    prices = read_settings().prices
    usage = read_job(lambda url: _load(url, job, prices), job)
    console = out()
    courses = len(usage.courses)
    console.print(
        f"job {usage.job_id} · {styled(usage.status)} · {courses} course run(s) · models: "
        f"{', '.join(usage.models) or 'none'}"
    )
    console.print(stage_table(usage))
    if usage.tokens_by_stage:
        console.print(sent_table(usage))
    console.print(employee_table(usage))
    if usage.total.unpriced_models:
        console.print(
            f"no price for {', '.join(sorted(usage.total.unpriced_models))}: "
            'set COURSEGEN_PRICES, e.g. {"model-name": [input, output]} in USD per million tokens'
        )
    if usage.total.failed_runs:
        console.print(
            f"{usage.total.failed_runs} agent run(s) failed, spending {usage.total.failed_tokens:,} tokens "
            "(in the cost; not in the other figures)"
        )
    reduction = usage.reduction
    console.print(
        f"token reduction: {_percent(reduction)} ({reduction.actual:,} input tokens sent to the agents; "
        f"{reduction.counterfactual:,} with chained SDK handoffs)"
    )
