"""The knowledge base: documents in, passages under their headings, found by full-text search in scope."""

from __future__ import annotations

import random
import string
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from coursegen.shared import kb
from coursegen.shared.store import Database


def word() -> str:
    """A word no other document of the test database holds."""
    return "".join(random.choices(string.ascii_lowercase, k=12))


async def new_company(db: asyncpg.Pool[Any]) -> uuid.UUID:
    slug = f"kb-{uuid.uuid4().hex[:10]}"
    company_id: uuid.UUID = await db.fetchval("INSERT INTO companies (name, slug) VALUES ($1, $1) RETURNING id", slug)
    return company_id


async def passages(db: asyncpg.Pool[Any], source: Path) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT d.document_id, d.title, d.format, d.company_id, p.passage_id, p.passage_index, p.heading, p.content
          FROM kb_documents d JOIN kb_passages p USING (document_id)
         WHERE d.source_path = $1 ORDER BY p.passage_index
        """,
        str(source),
    )
    return [dict(r) for r in rows]


async def test_markdown_is_chunked_under_its_headings(db: asyncpg.Pool[Any], tmp_path: Path) -> None:
    long_section = " ".join(f"{word()}." for _ in range(400))
    doc = tmp_path / "guide.md"
    doc.write_text(
        "# Query Tuning Guide\n\nRead the plan before changing anything.\n\n"
        "## Indexes\n\nAn index helps selective filters.\n\nComposite indexes follow the filter order.\n\n"
        f"## Long section\n\n{long_section}\n",
        encoding="utf-8",
    )
    company_id = await new_company(db)

    count = await kb.ingest(Database(db), doc, company_id=company_id)

    rows = await passages(db, doc)
    assert count == len(rows) == 5
    assert {r["title"] for r in rows} == {"Query Tuning Guide"} and {r["format"] for r in rows} == {"markdown"}
    assert [(r["heading"], r["content"]) for r in rows[:2]] == [
        ("Query Tuning Guide", "Read the plan before changing anything."),
        ("Indexes", "An index helps selective filters. Composite indexes follow the filter order."),
    ]
    # A section longer than a passage is split, each piece under the same heading.
    long = rows[2:]
    assert {r["heading"] for r in long} == {"Long section"}
    assert [len(r["content"].split()) for r in long] == [kb.MAX_PASSAGE_WORDS, kb.MAX_PASSAGE_WORDS, 40]
    assert " ".join(r["content"] for r in long) == long_section


async def test_plain_text_takes_its_title_from_the_file_name(db: asyncpg.Pool[Any], tmp_path: Path) -> None:
    doc = tmp_path / "onboarding_checklist.txt"
    doc.write_text("Ask for repository access on day one.\n\nPair with a colleague in week one.\n", encoding="utf-8")

    assert await kb.ingest(Database(db), doc, company_id=await new_company(db)) == 1

    [row] = await passages(db, doc)
    assert row["format"] == "text" and row["title"] == "Onboarding Checklist" and row["heading"] == ""
    assert row["content"] == "Ask for repository access on day one. Pair with a colleague in week one."


async def test_html_loses_scripts_and_styles_and_keeps_headings(db: asyncpg.Pool[Any], tmp_path: Path) -> None:
    doc = tmp_path / "review.html"
    doc.write_text(
        "<html><head><title>ignored</title><style>body { color: red; }</style>"
        "<script>var secret = 'tracking';</script></head><body>"
        "<h1>Code Review</h1><p>Review small changes &amp; review them soon.</p>"
        "<h2>Comments</h2><p>Say <b>why</b>, not only what.</p><script>alert('x')</script>"
        "</body></html>",
        encoding="utf-8",
    )

    assert await kb.ingest(Database(db), doc, company_id=await new_company(db)) == 2

    rows = await passages(db, doc)
    assert rows[0]["format"] == "html" and rows[0]["title"] == "Code Review"
    assert [(r["heading"], r["content"]) for r in rows] == [
        ("Code Review", "Review small changes & review them soon."),
        ("Comments", "Say why, not only what."),
    ]
    text = " ".join(r["content"] for r in rows)
    assert "color" not in text and "secret" not in text and "alert" not in text


async def test_adding_an_unchanged_file_again_changes_nothing(db: asyncpg.Pool[Any], tmp_path: Path) -> None:
    doc = tmp_path / "stable.md"
    doc.write_text("# Stable\n\nThis text does not change between runs.\n", encoding="utf-8")
    company_id = await new_company(db)
    await kb.ingest(Database(db), doc, company_id=company_id)
    before = await passages(db, doc)

    assert await kb.ingest(Database(db), doc, company_id=company_id) == 1

    assert await passages(db, doc) == before


async def test_a_changed_file_replaces_its_passages(db: asyncpg.Pool[Any], tmp_path: Path) -> None:
    doc = tmp_path / "changing.md"
    doc.write_text("# Version One\n\nThe first version says one thing.\n", encoding="utf-8")
    company_id = await new_company(db)
    await kb.ingest(Database(db), doc, company_id=company_id)
    old = await passages(db, doc)

    doc.write_text("# Version Two\n\nThe second version says another.\n\n## More\n\nAnd adds a section.\n")
    assert await kb.ingest(Database(db), doc, company_id=company_id) == 2

    new = await passages(db, doc)
    assert [(r["heading"], r["content"]) for r in new] == [
        ("Version Two", "The second version says another."),
        ("More", "And adds a section."),
    ]
    assert not {r["passage_id"] for r in old} & {r["passage_id"] for r in new}
    documents = await db.fetchval("SELECT count(*) FROM kb_documents WHERE source_path = $1", str(doc))
    assert documents == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("slides.pdf", "%PDF-1.7", "unsupported file type '.pdf'"),
        ("empty.md", "\n\n   \n", "no text in it"),
    ],
)
async def test_files_it_cannot_use_are_refused(
    db: asyncpg.Pool[Any], tmp_path: Path, name: str, content: str, message: str
) -> None:
    doc = tmp_path / name
    doc.write_text(content, encoding="utf-8")

    with pytest.raises(ValueError, match=message):
        await kb.ingest(Database(db), doc, company_id=None)
    assert await passages(db, doc) == []


async def test_search_sees_the_company_and_the_shared_library_only(db: asyncpg.Pool[Any], tmp_path: Path) -> None:
    topic = word()
    ours, theirs = await new_company(db), await new_company(db)
    for name, company in (("ours", ours), ("theirs", theirs), ("library", None)):
        doc = tmp_path / f"{name}.md"
        doc.write_text(f"# {name.title()}\n\nWhat {name} know about {topic} in practice.\n", encoding="utf-8")
        await kb.ingest(Database(db), doc, company_id=company)

    assert {h.document for h in await kb.search(db, ours, topic)} == {"Ours", "Library"}
    assert {h.document for h in await kb.search(db, theirs, topic)} == {"Theirs", "Library"}
    assert {h.document for h in await kb.search(db, None, topic)} == {"Library"}
    hit = (await kb.search(db, ours, topic, limit=1))[0]
    assert set(hit.model_dump()) >= {"passage_id", "document_id", "document", "heading", "content", "rank"}


async def test_search_wants_every_word_and_falls_back_to_any(db: asyncpg.Pool[Any], tmp_path: Path) -> None:
    first, second, absent = word(), word(), word()
    company = await new_company(db)
    for name, text in (("both", f"{first} meets {second}"), ("one", f"only {first}"), ("other", f"only {second}")):
        doc = tmp_path / f"{name}.md"
        doc.write_text(f"# {name.title()}\n\nThis passage has {text} in it.\n", encoding="utf-8")
        await kb.ingest(Database(db), doc, company_id=company)

    assert [h.document for h in await kb.search(db, company, f"{first} {second}")] == ["Both"]
    # No passage has both words: any passage with either.
    found = {h.document for h in await kb.search(db, company, f"{first} {absent}")}
    assert found == {"Both", "One"}
    assert await kb.search(db, company, absent) == []
    assert await kb.search(db, company, "?! ...") == []
