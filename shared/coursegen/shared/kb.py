"""The knowledge base: documents chunked into passages, searched with PostgreSQL full-text search.

A company sees its own documents and the shared library (``company_id`` NULL).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from coursegen.shared.store import Database
from coursegen.shared.store import kb as kb_store

MAX_PASSAGE_WORDS = 180


@dataclass(frozen=True)
class Passage:
    heading: str
    content: str


class _TextExtractor(HTMLParser):
    """HTML to Markdown-ish text: headings become ``#`` lines; scripts, styles and the ``<title>`` vanish."""

    # The <title> mostly repeats the first heading, or names the site: not a passage of its own.
    SKIPPED = ("script", "style", "title")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0
        self._heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
            self._heading = True
        elif tag in ("p", "li", "br", "div", "tr"):
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n")
            self._heading = False

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data.replace("\n", " ") if self._heading else data)


def html_to_text(source: str) -> str:
    parser = _TextExtractor()
    parser.feed(source)
    return html.unescape("".join(parser.parts))


def chunk(text: str, *, max_words: int = MAX_PASSAGE_WORDS) -> tuple[str, list[Passage]]:
    """Split a document into passages under their nearest heading. Returns (title, passages)."""
    title = ""
    heading = ""
    passages: list[Passage] = []
    buffer: list[str] = []

    def flush() -> None:
        words = " ".join(buffer).split()
        for start in range(0, len(words), max_words):
            piece = " ".join(words[start : start + max_words])
            if piece:
                passages.append(Passage(heading=heading, content=piece))
        buffer.clear()

    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        match = re.match(r"^(#{1,6})\s+(.*)$", block.splitlines()[0])
        if match:
            flush()
            heading = match.group(2).strip()
            if not title:
                title = heading
            rest = "\n".join(block.splitlines()[1:]).strip()
            if rest:
                buffer.append(rest)
            continue
        if len(" ".join([*buffer, block]).split()) > max_words:
            flush()
        buffer.append(block)
    flush()
    return title, passages


def read_document(path: Path) -> tuple[str, str, list[Passage]]:
    """(format, title, passages) of a Markdown, text or HTML file."""
    suffix = path.suffix.lower()
    # The type first: an image or a PDF is "unsupported", not "not UTF-8".
    if suffix not in (".html", ".htm", ".md", ".markdown", ".txt", ".text", ""):
        raise ValueError(f"{path}: unsupported file type {suffix!r} (Markdown, text or HTML)")
    raw = path.read_text(encoding="utf-8")
    if suffix in (".html", ".htm"):
        fmt, text = "html", html_to_text(raw)
    elif suffix in (".md", ".markdown"):
        fmt, text = "markdown", raw
    else:
        fmt, text = "text", raw
    title, passages = chunk(text)
    if not passages:
        raise ValueError(f"{path}: no text in it")
    return fmt, title or path.stem.replace("-", " ").replace("_", " ").title(), passages


def _read_with_digest(path: Path) -> tuple[str, str, list[Passage], str]:
    fmt, title, passages = read_document(path)
    return fmt, title, passages, hashlib.sha256(path.read_bytes()).hexdigest()


async def ingest(db: Database, path: Path, *, company_id: uuid.UUID | None, source: str | None = None) -> int:
    """Add or replace one document; returns its passage count. Unchanged files are left alone."""
    fmt, title, passages, digest = await asyncio.to_thread(_read_with_digest, path)
    source_path = source or str(path)
    async with db.transaction() as conn:
        existing = await kb_store.find_document(conn, company_id, source_path)
        if existing and existing.content_hash == digest:
            return await kb_store.passage_count(conn, existing.document_id)
        if existing:
            await kb_store.delete_document(conn, existing.document_id)
        await kb_store.insert_document(
            conn,
            company_id=company_id,
            title=title,
            source_path=source_path,
            fmt=fmt,
            content_hash=digest,
            passages=[(p.heading, p.content) for p in passages],
        )
    return len(passages)


search = kb_store.search
