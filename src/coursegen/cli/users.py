"""``coursegen company add``, ``user add`` and ``apikey create``: who may use the web app and the API."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer

from coursegen.cli._common import EXIT_USAGE, fail, out, parse_uuid, read_settings, require
from coursegen.gateway.security import hash_password, new_api_key
from coursegen.shared.store import Database, connect
from coursegen.shared.store.errors import DATABASE_ERRORS
from coursegen.shared.store.people import create_company, get_company, get_company_by_slug
from coursegen.shared.store.users import create_api_key, create_user, user_by_email

T = TypeVar("T")

company_app = typer.Typer(
    name="company", help="Companies: each has its own people, documents, jobs and courses.", no_args_is_help=True
)
user_app = typer.Typer(name="user", help="People who sign in to the web app.", no_args_is_help=True)
apikey_app = typer.Typer(name="apikey", help="Keys other systems call the HTTP API with.", no_args_is_help=True)

CompanyId = Annotated[
    uuid.UUID,
    typer.Option("--company", parser=parse_uuid, metavar="ID", help="The company's id.", show_default=False),
]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10


def _database_url() -> str:
    settings = read_settings()
    require(settings, "database_url")
    assert settings.database_url
    return settings.database_url


async def _db(url: str) -> Database:
    return Database(await connect(url, min_size=1, max_size=1))


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except DATABASE_ERRORS as exc:
        fail(f"cannot reach the database: {exc}")


@company_app.command("add")
def company_add(
    name: Annotated[str, typer.Argument(help="The company's name.", show_default=False)],
    slug: Annotated[str | None, typer.Option(help="A short unique name; default: from the name.")] = None,
) -> None:
    """Create a company; prints its id."""
    url = _database_url()
    slug = slug or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        fail("give the company a name with letters or digits, or a --slug", EXIT_USAGE)

    async def add() -> uuid.UUID | None:
        db = await _db(url)
        try:
            async with db.transaction() as conn:
                if await get_company_by_slug(conn, slug) is not None:
                    return None
                return (await create_company(conn, name=name, slug=slug)).id
        finally:
            await db.close()

    company_id = _run(add())
    if company_id is None:
        fail(f"a company with the slug {slug!r} exists already")
    out().print(f"company {company_id}  {name}")


@user_app.command("add")
def user_add(
    company: CompanyId,
    email: Annotated[str, typer.Option(help="Their email: what they sign in with.", show_default=False)],
    name: Annotated[str, typer.Option(help="Their name, as the app shows it.")] = "",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="COURSEGEN_NEW_PASSWORD",
            help=f"At least {MIN_PASSWORD} characters; asked for when not given.",
        ),
    ] = "",
) -> None:
    """Add a user who signs in to the web app and sees one company's data."""
    if not _EMAIL.match(email.strip()):
        fail(f"{email!r} is not an email address", EXIT_USAGE)
    if len(password) < MIN_PASSWORD:
        fail(f"the password needs at least {MIN_PASSWORD} characters", EXIT_USAGE)
    url = _database_url()

    async def add() -> str | None:
        db = await _db(url)
        try:
            async with db.transaction(company) as conn:
                if await get_company(conn, company) is None:
                    return f"no company {company}"
                if await user_by_email(conn, email.strip()) is not None:
                    return f"a user with the email {email.strip()} exists already"
                await create_user(
                    conn,
                    company_id=company,
                    email=email.strip(),
                    name=name.strip(),
                    password_hash=hash_password(password),
                )
            return None
        finally:
            await db.close()

    problem = _run(add())
    if problem:
        fail(str(problem))
    out().print(f"user {email.strip()} added to company {company}; they sign in at the web app's /login")


@apikey_app.command("create")
def apikey_create(
    company: CompanyId,
    name: Annotated[str, typer.Option(help="What the key is for, e.g. the HR system's name.")] = "",
) -> None:
    """Create an API key for a company. The key is shown once: only its hash is kept."""
    url = _database_url()
    key, prefix, key_hash = new_api_key()

    async def add() -> bool:
        db = await _db(url)
        try:
            async with db.transaction(company) as conn:
                if await get_company(conn, company) is None:
                    return False
                await create_api_key(conn, company_id=company, name=name, prefix=prefix, key_hash=key_hash)
            return True
        finally:
            await db.close()

    if not _run(add()):
        fail(f"no company {company}")
    console = out()
    console.print(key)
    console.print(
        f"[dim]API key for company {company}; it is not shown again. Send it as: Authorization: Bearer <key>[/]"
    )
