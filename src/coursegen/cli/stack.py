"""``coursegen demo`` and ``coursegen up``: the whole stack on one machine."""

from __future__ import annotations

import asyncio
import shlex
import time
import uuid
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console

from coursegen.cli._common import EXIT_FAILED, err, fail, out, parse_replicas, read_settings, require_models
from coursegen.cli._export import fetch_courses, list_companies, write_courses
from coursegen.cli._render import summary_table
from coursegen.cli.report import reduction_line
from coursegen.shared.store.errors import DATABASE_ERRORS
from coursegen.shared.subjects import SERVICES
from coursegen.stack.embedded import EmbeddedServerError
from coursegen.stack.follow import JobSummary, SubmitError, follow_job, submit_job
from coursegen.stack.migrate import MigrationError
from coursegen.stack.supervisor import ServiceProcess, Stack, StackError, interrupt_on_stop_signals

EXIT_INTERRUPTED = 130
READY_TIMEOUT = 120.0
_STACK_ERRORS: tuple[type[Exception], ...] = (
    StackError,
    EmbeddedServerError,
    MigrationError,
    SubmitError,
    *DATABASE_ERRORS,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the embedded servers keep their data and the logs go"
        " [default: COURSEGEN_DATA_DIR or ./.coursegen].",
        file_okay=False,
        resolve_path=True,
        show_default=False,
    ),
]


def _replicas_callback(values: list[str] | None) -> list[str] | None:
    parse_replicas(values or [])
    return values


def _print_servers(console: Console, stack: Stack) -> None:
    nats_kind = "embedded" if stack.nats else "COURSEGEN_NATS_URL"
    pg_kind = "embedded" if stack.postgres else "COURSEGEN_DATABASE_URL"
    console.print(f"[green]✓[/] NATS        {redact(stack.nats_url)}  [dim]({nats_kind})[/]")
    console.print(f"[green]✓[/] PostgreSQL  {redact(stack.database_url)}  [dim]({pg_kind}, migrated)[/]")


def redact(url: str) -> str:
    """A URL fit to print: its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _start_services(
    console: Console, stack: Stack, replicas: dict[str, int] | None = None, *, gateway_port: int | None = None
) -> None:
    with console.status("starting the services…"):
        stack.start_services(replicas, gateway_port=gateway_port)
        stack.wait_ready(timeout=READY_TIMEOUT)
    counts: dict[str, int] = {}
    for proc in stack.processes:
        counts[proc.name] = counts.get(proc.name, 0) + 1
    names = ", ".join(name if n == 1 else f"{name}×{n}" for name, n in counts.items())
    console.print(f"[green]✓[/] services    {names}  [dim](logs in {stack.logs_dir})[/]")
    ports = [f"{p.label} :{p.metrics_port}" for p in stack.processes if p.metrics_port]
    if ports:
        console.print(f"[green]✓[/] metrics     http://127.0.0.1:PORT/metrics  [dim]({', '.join(ports)})[/]")


def _crash_report(procs: list[ServiceProcess], lines: int = 20) -> str:
    return "\n\n".join(
        f"{p.label} (pid {p.pid}) exited with code {p.returncode}; last lines of {p.log_path}:\n{p.log_tail(lines)}"
        for p in procs
    )


# --- demo --------------------------------------------------------------------------------------


def demo(
    data_dir: DataDir = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for the job.")] = 300.0,
) -> None:
    """Start everything, generate courses for the demo company, show where they are, stop everything."""
    require_models(read_settings())
    console = out()
    with interrupt_on_stop_signals():
        try:
            summary, crashed, stack, exported = _run_demo(console, data_dir, timeout)
        except KeyboardInterrupt:
            err().print("interrupted; the services and servers are stopped")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except _STACK_ERRORS as exc:
            fail(f"{exc}\n(everything started was stopped again)")
    console.print()
    console.print(summary_table(summary))
    _print_where_to_look(console, stack, summary, exported)
    if summary.complete and not crashed:
        console.print(f"[bold green]demo complete:[/] {summary.courses} courses, {summary.modules} modules")
        return
    _explain_failure(stack, summary, crashed)
    raise typer.Exit(EXIT_FAILED)


def _run_demo(
    console: Console, data_dir: Path | None, timeout: float
) -> tuple[JobSummary, list[ServiceProcess], Stack, list[Path]]:
    from coursegen.stack.seed import seed_demo  # the seed is demo-only: loaded when used

    stack = Stack(read_settings(), data_dir)
    console.print(f"[bold]coursegen demo[/] · data in {stack.root}")
    try:
        with console.status("starting NATS and PostgreSQL…"):
            stack.start()
        _print_servers(console, stack)
        with console.status("seeding the demo company…"):
            company_id = asyncio.run(seed_demo(stack.database_url))
        console.print(f"[green]✓[/] company     {company_id}  [dim](demo data)[/]")
        _start_services(console, stack)
        request, job_id = asyncio.run(submit_job(stack.nats_url, company_id, None))
        console.print(f"[green]→[/] job         {job_id}  [dim](every employee of the company)[/]")

        def service_died() -> str | None:
            dead = stack.crashed()
            return f"{', '.join(p.label for p in dead)} exited" if dead else None

        summary = asyncio.run(
            follow_job(
                stack.database_url,
                job_id,
                console=console,
                timeout=timeout,
                request_event_id=request.event_id,
                stop_when=service_died,
            )
        )
        crashed = stack.crashed()
        courses = asyncio.run(fetch_courses(stack.database_url, job_id))
        exported = write_courses(courses, stack.root / "courses" / str(job_id))
        tokens = reduction_line(stack.database_url, job_id)
        if tokens:
            console.print(f"[green]✓[/] tokens      {tokens}")
    finally:
        with console.status("stopping the services and servers…"):
            stack.stop()
    return summary, crashed, stack, exported


def _print_where_to_look(console: Console, stack: Stack, summary: JobSummary, exported: list[Path]) -> None:
    job = summary.job_id
    db_url = stack.database_url
    console.print("\n[bold]Where to look[/]")
    if exported:
        console.print(f"  courses (Markdown)  {exported[0].parent}/  [dim]({len(exported)} files)[/]")
    console.print(f"  service logs        {stack.logs_dir}/")
    if stack.embedded:
        again = f"coursegen up --data-dir {shlex.quote(str(stack.root))}"
        console.print(f"  the data again      {again}  [dim](same URLs when the ports are free)[/]")
    console.print(f"  the job             COURSEGEN_DATABASE_URL={db_url} coursegen status {job}")
    console.print(f"  tokens and cost     COURSEGEN_DATABASE_URL={db_url} coursegen report {job}")
    console.print(f"  handoffs            COURSEGEN_DATABASE_URL={db_url} coursegen trace {job}")


def _explain_failure(stack: Stack, summary: JobSummary, crashed: list[ServiceProcess]) -> None:
    console = err()
    if summary.rejection_reason:
        console.print(f"[bold red]the coordinator rejected the job:[/] {summary.rejection_reason}", soft_wrap=True)
    elif summary.timed_out:
        phase = f", phase {summary.current_phase}" if summary.current_phase else ""
        console.print(
            f"[bold red]the job did not finish in time[/] (status {summary.status}{phase}); "
            f"look at the logs in {stack.logs_dir}",
            soft_wrap=True,
        )
    elif summary.stopped_reason:
        console.print(f"[bold red]stopped following the job:[/] {summary.stopped_reason}", soft_wrap=True)
    elif summary.status == "unknown":
        console.print("[bold red]the job never appeared in the database[/]", soft_wrap=True)
    else:
        console.print(
            f"[bold red]the job ended {summary.status}[/] with {summary.courses} of {summary.employees} courses",
            soft_wrap=True,
        )
    for run in summary.failed:
        log = stack.logs_dir / f"{run.stage}-0.log" if run.stage in SERVICES else stack.logs_dir
        where = f"{run.stage or '?'} ({run.kind or '?'})"
        console.print(f"  {run.employee_name}: failed at {where}: {run.message}  [dim](see {log})[/]", soft_wrap=True)
    if summary.error_message and not summary.failed:
        console.print(f"  job error: {summary.error_message}", soft_wrap=True)
    errors = [(p.label, message) for p in stack.processes for message in p.error_messages()]
    if errors:
        console.print("\n[bold]errors the services logged[/] (the last few of each):")
        for label, message in errors:
            console.print(f"  {label}: {message}", markup=False, highlight=False, soft_wrap=True)
    if summary.employees and not summary.finished:
        console.print(
            f"\nThe job is kept as it is: [bold]coursegen up --data-dir {shlex.quote(str(stack.root))}[/], then "
            f"[bold]coursegen resume {summary.job_id}[/] continues it from its last stored outputs.",
            soft_wrap=True,
        )
    if crashed:
        console.print("\n[bold red]a service died:[/]")
        console.print(_crash_report(crashed), markup=False, highlight=False, soft_wrap=True)


# --- up ----------------------------------------------------------------------------------------


def up(
    replicas: Annotated[
        list[str] | None,
        typer.Option(
            "--replicas",
            "-r",
            metavar="NAME=N",
            callback=_replicas_callback,
            help="Processes of a service, e.g. --replicas researcher=3 (repeat, or separate with commas).",
        ),
    ] = None,
    data_dir: DataDir = None,
    seed: Annotated[bool, typer.Option("--seed", help="Seed the demo company first.")] = False,
    port: Annotated[
        int,
        typer.Option(
            "--port", min=0, max=65535, envvar="COURSEGEN_GATEWAY_PORT", help="Port of the web app and HTTP API."
        ),
    ] = 8000,
    host: Annotated[str, typer.Option(envvar="COURSEGEN_GATEWAY_HOST", help="Address the web app listens on.")] = (
        "127.0.0.1"
    ),
) -> None:
    """Start the stack, with the web app and API, and keep it running until Ctrl-C."""
    counts = parse_replicas(replicas or [])
    require_models(read_settings())
    console = out()
    with interrupt_on_stop_signals():
        try:
            stack = Stack(read_settings(), data_dir)
            console.print(f"[bold]coursegen up[/] · data in {stack.root}")
            try:
                with console.status("starting NATS and PostgreSQL…"):
                    stack.start()
                _print_servers(console, stack)
                # The embedded stack's first start gets the demo company, so the app has something to show.
                if seed or (stack.embedded and not asyncio.run(list_companies(stack.database_url))):
                    from coursegen.stack.seed import seed_demo

                    company_id = asyncio.run(seed_demo(stack.database_url))
                    console.print(f"[green]✓[/] company     {company_id}  [dim](demo data)[/]")
                port = _free_port_or_fail(host, port)
                _start_services(console, stack, counts, gateway_port=port)
                _print_app(console, stack, host, port)
                _print_how_to_submit(console, stack)
                _keep_running(console, stack)
            finally:
                with console.status("stopping the services and servers…"):
                    stack.stop()
        except KeyboardInterrupt:
            console.print("stopped: the services and servers are down")
        except _STACK_ERRORS as exc:
            fail(f"{exc}\n(everything started was stopped again)")


def _free_port_or_fail(host: str, port: int) -> int:
    """The port for the web app; a clear error when another program holds it."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise StackError(
                f"the web app cannot listen on {host}:{port} ({exc.strerror}); choose another --port"
            ) from exc
        return int(s.getsockname()[1])


def _print_app(console: Console, stack: Stack, host: str, port: int) -> None:
    from coursegen.stack.demo_account import ensure_demo_user
    from coursegen.stack.seed import DEMO_SLUG

    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{shown}:{port}"
    console.print(f"\n[bold]The app[/]  {url}   [dim](API: {url}/api/v1, OpenAPI: {url}/api/v1/openapi.json)[/]")
    companies = asyncio.run(list_companies(stack.database_url))
    demo = asyncio.run(_demo_company(stack.database_url, DEMO_SLUG))
    if demo is not None and stack.embedded:
        email, password = asyncio.run(ensure_demo_user(stack.database_url, demo, stack.root))
        secret = password or "(set when it was created; reset it with coursegen user add)"
        console.print(f"  sign in as [bold]{email}[/] with the password [bold]{secret}[/]")
    elif companies:
        console.print("  add a user: coursegen user add --company ID --email you@example.com")


async def _demo_company(database_url: str, slug: str) -> uuid.UUID | None:
    from coursegen.shared.store import connect as connect_pool
    from coursegen.shared.store.people import get_company_by_slug

    pool = await connect_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            company = await get_company_by_slug(conn, slug)
    finally:
        await pool.close()
    return company.id if company else None


def _print_how_to_submit(console: Console, stack: Stack) -> None:
    companies = asyncio.run(list_companies(stack.database_url))
    example = str(companies[0].company_id) if companies else "COMPANY_ID"
    console.print("\n[bold]Submit work[/] from another shell:")
    console.print(f"  export COURSEGEN_NATS_URL={stack.nats_url}")
    console.print(f"  export COURSEGEN_DATABASE_URL={stack.database_url}")
    console.print(f"  coursegen generate --company {example}")
    if companies:
        console.print("[bold]Companies[/]")
        for company in companies:
            console.print(
                f"  {company.company_id}  {company.name}  [dim]({company.active_employees} active employees)[/]"
            )
    else:
        console.print("[dim]No companies yet: `coursegen up --seed` adds the demo company.[/]")
    console.print("\nCtrl-C stops everything.")


def _keep_running(console: Console, stack: Stack) -> None:
    """Restart a crashed replica, waiting longer after each crash of the same one (1 s up to 30 s)."""
    crashes: dict[str, int] = {}
    restart_at: dict[str, float] = {}
    while True:
        time.sleep(1)
        now = time.monotonic()
        for proc in stack.crashed():
            if proc.label not in restart_at:
                crashes[proc.label] = crashes.get(proc.label, 0) + 1
                delay = min(30.0, 2.0 ** (crashes[proc.label] - 1))
                restart_at[proc.label] = now + delay
                console.print(f"[yellow]![/] {proc.label} died; restarting it in {delay:.0f} s")
                console.print(_crash_report([proc], 10), markup=False, soft_wrap=True)
            elif now >= restart_at[proc.label]:
                del restart_at[proc.label]
                stack.restart(proc.name, proc.index)
                console.print(f"[green]↻[/] restarted {proc.label}")
