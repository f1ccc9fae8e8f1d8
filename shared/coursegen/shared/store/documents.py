"""Knowledge-base documents as a company manages them: its own documents, their passages, uploads, deletion.

A company reads its own documents and the shared library (``company_id`` NULL),
and changes only its own. Courses keep the quotes of what they cite, so
deleting a document leaves every course as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store import kb
from coursegen.shared.store._pool import Connection


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Document(_Frozen):
    document_id: uuid.UUID
    title: str
    source_path: str
    format: str
    shared: bool
    """From the shared library every company sees (read-only to a company)."""
    passages: int
    created_at: datetime


class PassageView(_Frozen):
    passage_id: uuid.UUID
    document_id: uuid.UUID
    passage_index: int
    heading: str
    content: str


_DOCUMENTS = """
SELECT d.document_id, d.title, d.source_path, d.format, d.company_id IS NULL AS shared, d.created_at,
       (SELECT count(*) FROM kb_passages p WHERE p.document_id = d.document_id) AS passages
  FROM kb_documents d
 WHERE (d.company_id = $1 OR d.company_id IS NULL) {where}
"""


async def list_documents(
    conn: Connection, company_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[Document], int]:
    rows = await conn.fetch(
        _DOCUMENTS.format(where="") + " ORDER BY shared, d.title, d.document_id LIMIT $2 OFFSET $3",
        company_id,
        limit,
        offset,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM kb_documents WHERE company_id = $1 OR company_id IS NULL", company_id
    )
    return [Document(**dict(r)) for r in rows], int(total or 0)


async def get_document(conn: Connection, company_id: uuid.UUID, document_id: uuid.UUID) -> Document | None:
    row = await conn.fetchrow(_DOCUMENTS.format(where="AND d.document_id = $2"), company_id, document_id)
    return Document(**dict(row)) if row else None


async def document_passages(conn: Connection, company_id: uuid.UUID, document_id: uuid.UUID) -> list[PassageView]:
    rows = await conn.fetch(
        """
        SELECT p.passage_id, p.document_id, p.passage_index, p.heading, p.content
          FROM kb_passages p JOIN kb_documents d ON d.document_id = p.document_id
         WHERE p.document_id = $2 AND (d.company_id = $1 OR d.company_id IS NULL)
         ORDER BY p.passage_index
        """,
        company_id,
        document_id,
    )
    return [PassageView(**dict(r)) for r in rows]


async def add_document(
    conn: Connection,
    company_id: uuid.UUID,
    *,
    title: str,
    source_path: str,
    fmt: str,
    content_hash: str,
    passages: Sequence[tuple[str, str]],
) -> uuid.UUID:
    """Add (or replace, by source name) one of the company's documents with its (heading, content) passages."""
    await conn.execute("DELETE FROM kb_documents WHERE company_id = $1 AND source_path = $2", company_id, source_path)
    return await kb.insert_document(
        conn,
        company_id=company_id,
        title=title,
        source_path=source_path,
        fmt=fmt,
        content_hash=content_hash,
        passages=list(passages),
    )


async def delete_document(conn: Connection, company_id: uuid.UUID, document_id: uuid.UUID) -> bool:
    """Delete one of the company's own documents and its passages; False when it is not the company's."""
    result: str = await conn.execute(
        "DELETE FROM kb_documents WHERE company_id = $1 AND document_id = $2", company_id, document_id
    )
    return result.endswith(" 1")
