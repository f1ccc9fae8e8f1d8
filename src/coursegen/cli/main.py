"""The ``coursegen`` command."""

from __future__ import annotations

import typer

from coursegen.cli import contract, export, jobs, kb, nats_config, report, review, service, stack, trace, users

app = typer.Typer(
    name="coursegen",
    help="Personalized training courses from a pipeline of AI agents on NATS JetStream and PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    # Locals in tracebacks would print database URLs with their passwords.
    pretty_exceptions_show_locals=False,
)

app.command(rich_help_panel="Run")(stack.demo)
app.command(rich_help_panel="Run")(stack.up)
app.command(rich_help_panel="Run")(service.service)
app.command(rich_help_panel="Jobs")(jobs.generate)
app.command(rich_help_panel="Jobs")(jobs.status)
app.command(rich_help_panel="Jobs")(jobs.resume)
app.command(rich_help_panel="Jobs")(jobs.cancel)
app.command(rich_help_panel="Jobs")(trace.trace)
app.command(rich_help_panel="Jobs")(report.report)
app.command(rich_help_panel="Courses")(export.export)
app.command(rich_help_panel="Database")(jobs.migrate)
app.command(rich_help_panel="Contract")(contract.asyncapi)
app.command("nats-config", rich_help_panel="Run")(nats_config.nats_config)
app.add_typer(kb.app, rich_help_panel="Database")
app.add_typer(review.app, rich_help_panel="Review")
app.command(rich_help_panel="Review")(review.publish)
app.command("versions", rich_help_panel="Review")(review.versions_)
app.command(rich_help_panel="Review")(review.audit)
app.add_typer(users.company_app, rich_help_panel="Access")
app.add_typer(users.user_app, rich_help_panel="Access")
app.add_typer(users.apikey_app, rich_help_panel="Access")


if __name__ == "__main__":
    app()
