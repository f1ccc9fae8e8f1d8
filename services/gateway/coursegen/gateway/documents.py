"""Uploaded knowledge-base documents: Markdown, text, PDF (pypdf) and Word (python-docx), into passages."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import PurePath

from coursegen.gateway.problems import Problem
from coursegen.shared import kb
from coursegen.shared.store import Database
from coursegen.shared.store.documents import add_document

FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".pdf": "pdf",
    ".docx": "docx",
}


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n\n".join((page.extract_text() or "") for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read the PDF: {exc}") from exc


def _docx_text(data: bytes) -> str:
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ValueError(f"cannot read the Word document: {exc}") from exc
    blocks = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.startswith("Heading"):
            level = style.removeprefix("Heading").strip()
            blocks.append("#" * (int(level) if level.isdigit() else 1) + " " + text)
        elif style == "Title":
            blocks.append("# " + text)
        else:
            blocks.append(text)
    return "\n\n".join(blocks)


def extract(filename: str, data: bytes) -> tuple[str, str]:
    """(format, text) of an upload; ValueError saying what is wrong."""
    suffix = PurePath(filename).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise ValueError(f"{filename!r}: unsupported file type; upload Markdown, text, PDF or Word (.docx)")
    if fmt == "pdf":
        return fmt, _pdf_text(data)
    if fmt == "docx":
        return fmt, _docx_text(data)
    try:
        return fmt, data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{filename!r} is not UTF-8 text") from None


async def ingest_upload(db: Database, company_id: uuid.UUID, filename: str, data: bytes) -> tuple[uuid.UUID, int]:
    """Store an uploaded document as the company's; (document id, passages)."""
    name = PurePath(filename or "").name
    if not name:
        raise Problem(422, "the upload has no file name", title="Invalid document")
    try:
        fmt, text = extract(name, data)
    except ValueError as exc:
        raise Problem(422, str(exc), title="Invalid document") from None
    # What PostgreSQL cannot store is not text anyone meant: NUL bytes and lone surrogates go.
    text = text.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")
    title, passages = kb.chunk(text)
    if not passages:
        raise Problem(422, f"{name!r} has no text in it", title="Invalid document")
    title = title or PurePath(name).stem.replace("-", " ").replace("_", " ").strip().title() or name
    async with db.transaction(company_id) as conn:
        document_id = await add_document(
            conn,
            company_id,
            title=title,
            source_path=f"upload/{name}",
            fmt=fmt,
            content_hash=hashlib.sha256(data).hexdigest(),
            passages=[(p.heading, p.content) for p in passages],
        )
    return document_id, len(passages)
