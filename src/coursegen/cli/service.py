"""``coursegen service NAME``: one service in the foreground; what a container runs."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from faststream import FastStream
from pydantic import ValidationError

from coursegen.cli._common import (
    EXIT_USAGE,
    RUNNABLE,
    check_service_name,
    fail,
    read_settings,
    require,
    require_models,
    stderr_is_terminal,
)
from coursegen.cli._logging import configure_logging
from coursegen.shared import telemetry
from coursegen.shared.service import ServiceDefinition, build_app
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import STAGES
from coursegen.stack.supervisor import READY_FILE_ENV

log = logging.getLogger("coursegen.cli")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def load_service(name: str) -> ServiceDefinition:
    """The ``service`` declared by ``coursegen.<name>.app``."""
    module_name = f"coursegen.{name}.app"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only our own module missing is a usage problem; a missing dependency inside it is a bug to show.
        if exc.name not in (module_name, f"coursegen.{name}"):
            raise
        fail(f"{module_name} is not installed (run: uv sync)", EXIT_USAGE)
    definition = getattr(module, "service", None)
    if not isinstance(definition, ServiceDefinition):
        fail(f"{module_name} has no `service: ServiceDefinition`", EXIT_USAGE)
    return definition


async def serve(app: FastStream, *, ready_file: str | None = None) -> None:
    """Run the app until SIGTERM/SIGINT; also when a signal comes while it is still starting.

    FastStream's signal handlers only set a flag, which it reads once startup
    (its lifespan: streams, database) is over: a service that cannot reach NATS
    or PostgreSQL would ignore SIGTERM for as long as it keeps trying. Before
    startup completes, a signal cancels the start instead.
    """
    started = asyncio.Event()
    stopping = False

    @app.after_startup
    async def mark_started() -> None:
        # Registered after build_app's hooks: the broker and its consumers have started.
        started.set()
        if ready_file:
            Path(ready_file).write_text(str(os.getpid()))  # noqa: ASYNC240 - a few bytes, once

    runner = asyncio.create_task(app.run())
    await asyncio.sleep(0)  # app.run installs FastStream's signal handlers in its first step; ours replace them

    def on_signal() -> None:
        nonlocal stopping
        stopping = True
        app.exit()
        if not started.is_set():
            runner.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' event loop
            loop.add_signal_handler(sig, on_signal)
    try:
        await runner
    except asyncio.CancelledError:
        if not stopping:
            raise
        log.info("stopped while starting")


def service(
    name: Annotated[
        str,
        typer.Argument(
            callback=check_service_name,
            metavar="NAME",
            help=f"The service to run: {', '.join(RUNNABLE)}.",
            show_default=False,
        ),
    ],
    log_level: Annotated[
        str,
        typer.Option(envvar="COURSEGEN_LOG_LEVEL", help=f"One of {', '.join(LOG_LEVELS)}."),
    ] = "INFO",
) -> None:
    """Run one service in the foreground against COURSEGEN_NATS_URL and COURSEGEN_DATABASE_URL."""
    level = log_level.upper()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(f"{log_level!r} is not one of {', '.join(LOG_LEVELS)}", param_hint="--log-level")
    settings = read_settings()
    require(settings, "nats_url", "database_url")
    if name in STAGES:
        require_models(settings, [name])
    if name == "gateway":
        _run_gateway(settings, level)
        return
    definition = load_service(name)
    configure_logging(name, level=getattr(logging, level), json_lines=not stderr_is_terminal())
    # build_app also keeps the Agents SDK's traces local unless COURSEGEN_OPENAI_TRACING=1.
    app = build_app(definition, settings)

    try:
        asyncio.run(serve(app, ready_file=os.environ.get(READY_FILE_ENV)))
    except KeyboardInterrupt:
        # FastStream handles SIGINT/SIGTERM itself; this is a second Ctrl-C during shutdown.
        log.warning("%s interrupted during shutdown", name)
    finally:
        telemetry.shutdown()


def _run_gateway(settings: Settings, level: str) -> None:
    """The web app and HTTP API in the foreground (uvicorn), until SIGTERM/SIGINT."""
    from coursegen.gateway.app import run
    from coursegen.gateway.settings import GatewaySettings

    configure_logging("gateway", level=getattr(logging, level), json_lines=not stderr_is_terminal())
    try:
        gateway_settings = GatewaySettings()
    except ValidationError as exc:
        fail(f"invalid gateway setting: {exc}", EXIT_USAGE)
    try:
        run(settings, gateway_settings, ready_file=os.environ.get(READY_FILE_ENV))
    finally:
        telemetry.shutdown()
