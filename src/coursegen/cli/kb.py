"""``coursegen kb add`` and ``coursegen kb search``: the knowledge base the researcher grounds its findings in."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from coursegen.cli._common import EXIT_FAILED, err, fail, out, parse_uuid, read_settings, require
from coursegen.shared import kb
from coursegen.shared.store import Database, connect
from coursegen.shared.store.errors import DATABASE_ERRORS
from coursegen.shared.store.people import company_exists

app = typer.Typer(
    name="kb",
    help="The knowledge base: documents the researcher searches (a company's own, and the shared library).",
    no_args_is_help=True,
)

CompanyOption = Annotated[
    uuid.UUID | None,
    typer.Option(
        "--company",
        parser=parse_uuid,
        metavar="ID",
        help="The company whose knowledge base it is. Default: the shared library, which every company sees.",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Ingested:
    path: Path
    passages: int | None
    error: str | None = None


def _files(paths: list[Path]) -> list[tuple[Path, str | None]]:
    """Every file to ingest, in order: (path, None), or (path, why it cannot be read)."""
    found: list[tuple[Path, str | None]] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not inside:
                found.append((path, "the folder holds no files"))
            found.extend((p, None) for p in inside)
        elif path.is_file():
            found.append((path, None))
        elif path.exists():
            found.append((path, "not a regular file"))
        else:
            found.append((path, "no such file or folder"))
    return found


def _reason(path: Path, exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError):
        return f"cannot read it ({exc.strerror or exc})"
    # kb's own messages start with the path.
    return str(exc).removeprefix(f"{path}: ")


async def _company_known(db: Database, company_id: uuid.UUID) -> bool:
    async with db.connection() as conn:
        return await company_exists(conn, company_id)


async def _add(database_url: str, paths: list[Path], company_id: uuid.UUID | None) -> list[Ingested] | None:
    db = Database(await connect(database_url, min_size=1, max_size=2))
    try:
        if company_id is not None and not await _company_known(db, company_id):
            return None
        results: list[Ingested] = []
        for path, problem in _files(paths):
            if problem is not None:
                results.append(Ingested(path, None, problem))
                continue
            try:
                # The absolute path names the document, so adding it again from elsewhere replaces it.
                count = await kb.ingest(db, path, company_id=company_id, source=str(path.resolve()))
            except (ValueError, OSError) as exc:
                results.append(Ingested(path, None, _reason(path, exc)))
            else:
                results.append(Ingested(path, count))
        return results
    finally:
        await db.close()


@app.command()
def add(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            help="Markdown (.md), text (.txt) or HTML (.html) files, or folders (searched recursively).",
            show_default=False,
        ),
    ],
    company: CompanyOption = None,
) -> None:
    """Add documents to the knowledge base, chunked into passages under their headings.

    A file added again replaces its passages when it changed, and is left
    alone when it did not. Every file found must be Markdown, text or HTML
    (hidden files in folders are skipped); any other is reported, and the rest
    are still added. Exits 1 when a file could not be added.
    """
    settings = read_settings()
    require(settings, "database_url")
    assert settings.database_url
    try:
        results = asyncio.run(_add(settings.database_url, paths, company))
    except DATABASE_ERRORS as exc:
        fail(f"cannot write to the knowledge base: {exc}")
    if results is None:
        fail(f"no company {company} in the database")
    console, errors = out(), err()
    for result in results:
        if result.error is None:
            console.print(f"[green]✓[/] {escape(str(result.path))}  {result.passages} passage(s)")
        else:
            errors.print(f"[bold red]error:[/] {escape(str(result.path))}: {escape(result.error)}")
    added = [r for r in results if r.error is None]
    failed = len(results) - len(added)
    scope = f"company {company}" if company else "the shared library"
    summary = f"{len(added)} file(s), {sum(r.passages or 0 for r in added)} passage(s) in {scope}"
    console.print(summary + (f"; {failed} file(s) failed" if failed else ""))
    if failed:
        raise typer.Exit(EXIT_FAILED)


def snippet(content: str, query: str, width: int = 160) -> str:
    """The passage around the first word of the query it contains."""
    words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 2] or re.findall(r"\w+", query.lower())
    lowered = content.lower()
    hits = [i for i in (lowered.find(w) for w in words) if i >= 0]
    start = max(0, min(hits) - width // 3) if hits else 0
    if start:
        start = content.find(" ", start) + 1 or start
    text = content[start : start + width].strip()
    return ("…" if start else "") + text + ("…" if start + width < len(content) else "")


async def _search(
    database_url: str, company_id: uuid.UUID | None, query: str, limit: int
) -> list[dict[str, Any]] | None:
    db = Database(await connect(database_url, min_size=1, max_size=1))
    try:
        if company_id is not None and not await _company_known(db, company_id):
            return None
        async with db.connection() as conn:
            return [hit.model_dump() for hit in await kb.search(conn, company_id, query, limit=limit)]
    finally:
        await db.close()


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="Words to look for.", show_default=False)],
    company: Annotated[
        uuid.UUID | None,
        typer.Option(
            "--company",
            parser=parse_uuid,
            metavar="ID",
            help="Search this company's documents as well as the shared library. Default: the shared library only.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=50, help="Most passages to show.")] = 5,
) -> None:
    """Search the knowledge base as the researcher does: passages with every word first, else with any."""
    settings = read_settings()
    require(settings, "database_url")
    assert settings.database_url
    try:
        hits = asyncio.run(_search(settings.database_url, company, query, limit))
    except DATABASE_ERRORS as exc:
        fail(f"cannot search the knowledge base: {exc}")
    if hits is None:
        fail(f"no company {company} in the database")
    console = out()
    if not hits:
        console.print(f"no passage matches {escape(repr(query))}")
        return
    table = Table()
    table.add_column("document")
    table.add_column("heading")
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("snippet", ratio=1)
    for hit in hits:
        table.add_row(
            escape(hit["document"]),
            escape(hit["heading"] or "-"),
            f"{hit['rank']:.3f}",
            escape(snippet(hit["content"], query)),
        )
    console.print(table)
