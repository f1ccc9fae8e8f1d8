"""The knowledge base (``kb_documents``, ``kb_passages``): a company's documents and the shared library.

A company sees its own documents and the shared library (``company_id`` NULL).
"""

from __future__ import annotations

import re
import uuid

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


class PassageHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    passage_id: uuid.UUID
    document_id: uuid.UUID
    document: str
    heading: str
    content: str
    rank: float = 0.0


class StoredDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    document_id: uuid.UUID
    content_hash: str


async def find_document(conn: Connection, company_id: uuid.UUID | None, source_path: str) -> StoredDocument | None:
    row = await conn.fetchrow(
        "SELECT document_id, content_hash FROM kb_documents "
        "WHERE company_id IS NOT DISTINCT FROM $1 AND source_path = $2",
        company_id,
        source_path,
    )
    return StoredDocument.model_validate(dict(row)) if row else None


async def passage_count(conn: Connection, document_id: uuid.UUID) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM kb_passages WHERE document_id = $1", document_id)
    return count


async def delete_document(conn: Connection, document_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM kb_documents WHERE document_id = $1", document_id)


async def insert_document(
    conn: Connection,
    *,
    company_id: uuid.UUID | None,
    title: str,
    source_path: str,
    fmt: str,
    content_hash: str,
    passages: list[tuple[str, str]],
) -> uuid.UUID:
    """A document with its (heading, content) passages, in order."""
    document_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO kb_documents (company_id, title, source_path, format, content_hash) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING document_id",
        company_id,
        title,
        source_path,
        fmt,
        content_hash,
    )
    await conn.executemany(
        "INSERT INTO kb_passages (document_id, passage_index, heading, content) VALUES ($1, $2, $3, $4)",
        [(document_id, i, heading, content) for i, (heading, content) in enumerate(passages)],
    )
    return document_id


_SEARCH = """
    SELECT p.passage_id, d.document_id, d.title AS document, p.heading, p.content,
           ts_rank_cd(p.search, q) AS rank
      FROM kb_passages p
      JOIN kb_documents d ON d.document_id = p.document_id,
           to_tsquery('english', $2) q
     WHERE p.search @@ q AND (d.company_id IS NULL OR d.company_id = $1)
     ORDER BY rank DESC, d.title, p.passage_index
     LIMIT $3
"""


async def search(conn: Connection, company_id: uuid.UUID | None, query: str, *, limit: int = 5) -> list[PassageHit]:
    """Passages matching a query, best first. All words first; any word when that finds nothing."""
    terms = [re.sub(r"[^\w]", "", w) for w in re.findall(r"[\w+#.-]+", query.lower())]
    terms = [t for t in terms if t]
    if not terms:
        return []
    rows = await conn.fetch(_SEARCH, company_id, " & ".join(terms), limit)
    if not rows and len(terms) > 1:
        rows = await conn.fetch(_SEARCH, company_id, " | ".join(terms), limit)
    return [PassageHit.model_validate(dict(r)) for r in rows]


async def passages(
    conn: Connection, company_id: uuid.UUID, passage_ids: list[uuid.UUID]
) -> dict[uuid.UUID, PassageHit]:
    """These passages, where the company may read them (its own documents and the shared library)."""
    rows = await conn.fetch(
        """
        SELECT p.passage_id, d.document_id, d.title AS document, p.heading, p.content
          FROM kb_passages p JOIN kb_documents d ON d.document_id = p.document_id
         WHERE p.passage_id = ANY($1::uuid[]) AND (d.company_id IS NULL OR d.company_id = $2)
        """,
        passage_ids,
        company_id,
    )
    return {r["passage_id"]: PassageHit.model_validate(dict(r)) for r in rows}
