"""Tables for a job's outcome and state."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table

from coursegen.shared.store.reports import JobState
from coursegen.stack.follow import JobSummary

_STYLE = {
    "completed": "green",
    "no_gaps": "green",
    "completed_with_errors": "yellow",
    "cancelled": "yellow",
    "failed": "red",
    "rejected": "red",
    "unknown": "red",
    "running": "cyan",
}


def styled(status: str) -> str:
    style = _STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def summary_table(summary: JobSummary) -> Table:
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("job", str(summary.job_id))
    status = styled(summary.status)
    if summary.timed_out:
        status += " [red](timed out)[/]"
    table.add_row("status", status)
    if summary.rejection_reason:
        table.add_row("rejected", summary.rejection_reason)
    if summary.status not in ("rejected", "unknown"):
        table.add_row("courses", f"{summary.courses} of {summary.employees} employees")
        table.add_row("modules", str(summary.modules))
        table.add_row("handoffs", f"{summary.handoffs} events recorded")
    table.add_row("time", f"{summary.elapsed_seconds:.1f} s")
    if summary.error_message:
        table.add_row("error", summary.error_message)
    for run in summary.failed:
        table.add_row(f"[red]failed[/] {run.employee_name}", f"{run.stage or '?'} ({run.kind or '?'}): {run.message}")
    return table


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else "-"


def job_table(job: JobState) -> Table:
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("job", str(job.job_id))
    table.add_row("status", styled(job.status))
    table.add_row("progress", f"{job.progress_percentage}%" + (f" ({job.current_phase})" if job.current_phase else ""))
    table.add_row("company", str(job.company_id))
    table.add_row(
        "courses",
        f"{job.successful_courses} succeeded, {job.failed_courses} failed, of {job.total_employees} employees",
    )
    table.add_row("created", _when(job.created_at))
    table.add_row("started", _when(job.started_at))
    table.add_row("completed", _when(job.completed_at))
    if job.started_at and job.completed_at:
        table.add_row("took", f"{(job.completed_at - job.started_at).total_seconds():.1f} s")
    if job.statistics:
        table.add_row(
            "statistics", " · ".join(f"{key.replace('_', ' ')} {value}" for key, value in job.statistics.items())
        )
    budget = job.job_config.get("token_budget")
    if budget:
        table.add_row("token budget", str(budget))
    if job.failed_employee_ids:
        table.add_row("failed employees", ", ".join(str(e) for e in job.failed_employee_ids))
    if job.error_message:
        table.add_row("error", f"[red]{job.error_message}[/]")
    return table


def runs_table(job: JobState) -> Table:
    table = Table(title="course runs", title_justify="left")
    for column in ("employee", "status", "stage", "modules", "progress", "error"):
        table.add_column(column)
    for run in job.runs:
        modules = f"{run.modules_done}/{run.modules_total}" if run.modules_total is not None else "-"
        error = f"{run.error_stage} ({run.error_kind}): {run.error_message}" if run.error_message else ""
        table.add_row(
            run.employee_name,
            styled(run.status),
            run.current_stage or "-",
            modules,
            f"{run.progress_percentage}%",
            error,
        )
    return table
