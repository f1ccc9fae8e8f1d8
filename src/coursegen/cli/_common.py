"""What every command shares: settings read fresh, required variables, error exits, option parsing."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from coursegen.shared.settings import Settings, get_settings
from coursegen.shared.store.errors import DATABASE_ERRORS
from coursegen.shared.subjects import SERVICES, STAGES

T = TypeVar("T")

# Exit codes: 1 = the work did not succeed, 2 = the command was used wrongly (as click does).
EXIT_FAILED = 1
EXIT_USAGE = 2

_DESCRIPTIONS = {
    "nats_url": "the NATS server URL, e.g. nats://127.0.0.1:4222",
    "database_url": "the PostgreSQL URL, e.g. postgresql://postgres@127.0.0.1:5432/coursegen",
}


def out() -> Console:
    # soft_wrap: URLs and commands are meant to be copied; a pipe's 80 columns must not break them.
    return Console(highlight=False, soft_wrap=True)


def err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    err().print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def read_settings() -> Settings:
    """The settings as the environment says now (the cached copy may predate a test's changes)."""
    get_settings.cache_clear()
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"COURSEGEN_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid setting: {problems}", EXIT_USAGE)


def require(settings: Settings, *names: str) -> None:
    """Exit 2 naming every missing ``COURSEGEN_`` variable among ``names``."""
    missing = [name for name in names if not getattr(settings, name)]
    if missing:
        lines = [f"COURSEGEN_{name.upper()} is not set ({_DESCRIPTIONS.get(name, name)})" for name in missing]
        fail("; ".join(lines), EXIT_USAGE)


def require_models(settings: Settings, stages: Iterable[str] = STAGES) -> None:
    """Exit 2 when a stage's model cannot run here (unknown, or without its API key), before anything starts."""
    from coursegen.shared.models import model_problems  # the SDK is heavy: loaded when a command needs it

    problems = model_problems(settings, stages)
    if problems:
        fail("; ".join(problems), EXIT_USAGE)


def read_job(load: Callable[[str], Coroutine[Any, Any, T | None]], job: uuid.UUID) -> T:
    """What ``load`` reads about a job from ``COURSEGEN_DATABASE_URL``; a clear exit when it cannot or there is none."""
    settings = read_settings()
    require(settings, "database_url")
    assert settings.database_url
    try:
        found = asyncio.run(load(settings.database_url))
    except DATABASE_ERRORS as exc:
        fail(f"cannot read the job from the database: {exc}")
    if found is None:
        fail(f"no job {job} in the database")
    return found


RUNNABLE = (*SERVICES, "gateway")
"""What ``coursegen service`` runs: the bus's services and the gateway."""


def check_service_name(name: str) -> str:
    """A typer callback: the name of a service, or a usage error listing them."""
    if name not in RUNNABLE:
        raise typer.BadParameter(f"unknown service {name!r}; services are: {', '.join(RUNNABLE)}")
    return name


def parse_uuid(value: str | uuid.UUID) -> uuid.UUID:
    """A typer parser: a UUID, or a usage error that shows what one looks like."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a UUID (like 123e4567-e89b-12d3-a456-426614174000)") from None


def parse_replicas(values: Iterable[str]) -> dict[str, int]:
    """``["researcher=3", "content=2,quality=2"]`` → ``{"researcher": 3, ...}``; BadParameter when wrong."""
    replicas: dict[str, int] = {}
    for value in values:
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, count = item.partition("=")
            name = name.strip()
            if not sep or not name:
                raise typer.BadParameter(f"{item!r} is not NAME=N (for example researcher=3)", param_hint="--replicas")
            if name not in SERVICES:
                raise typer.BadParameter(
                    f"unknown service {name!r}; services are: {', '.join(SERVICES)}", param_hint="--replicas"
                )
            try:
                n = int(count)
            except ValueError:
                n = 0
            if n < 1:
                raise typer.BadParameter(
                    f"{name}={count.strip()!r}: the number of replicas must be a whole number of 1 or more",
                    param_hint="--replicas",
                )
            replicas[name] = n
    return replicas


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
