"""Knowledge-base documents through the API: Markdown, text, PDF and Word in, passages out, search, delete."""

from __future__ import annotations

import io

import docx
import httpx

from tests.gateway.test_api import assert_problem


def pdf_with_text(lines: list[str]) -> bytes:
    """A small valid PDF whose one page shows ``lines`` (written by hand: no PDF writer needed)."""
    text = " ".join(f"({line}) Tj T*" for line in lines)
    stream = f"BT /F1 12 Tf 14 TL 72 720 Td {text} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def word_document() -> bytes:
    document = docx.Document()
    document.add_heading("Onboarding handbook", level=1)
    document.add_paragraph("Every new analyst pairs with a mentor for the first quarter.")
    document.add_heading("Dashboards", level=2)
    document.add_paragraph("Dashboards at this company are reviewed weekly by the analytics guild.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


async def test_every_format_becomes_passages_that_search_finds(client: httpx.AsyncClient) -> None:
    uploads = {
        "runbook.md": b"# Incident runbook\n\nPage the on-call engineer, then open a zebrafish incident channel.\n",
        "notes.txt": "Quarterly planning uses the kraken estimation method, née T-shirt sizes.".encode(),
        "policy.pdf": pdf_with_text(
            ["Expense policy", "Receipts are filed within thirty days via the pelican portal."]
        ),
        "handbook.docx": word_document(),
    }
    ids = {}
    for name, data in uploads.items():
        response = await client.post("/api/v1/documents", files={"file": (name, data)})
        assert response.status_code == 201, (name, response.text)
        ids[name] = response.json()["document_id"]
        assert response.json()["passages"] >= 1 and not response.json()["shared"]
    detail = (await client.get(f"/api/v1/documents/{ids['handbook.docx']}")).json()
    assert detail["document"]["title"] == "Onboarding handbook" and detail["document"]["format"] == "docx"
    assert any(p["heading"] == "Dashboards" and "analytics guild" in p["content"] for p in detail["passages"])
    for word, name in (
        ("zebrafish", "runbook.md"),
        ("kraken", "notes.txt"),
        ("pelican", "policy.pdf"),
        ("guild", "handbook.docx"),
    ):
        hits = (await client.get("/api/v1/documents/search", params={"q": word})).json()
        assert ids[name] in [h["document_id"] for h in hits], word
    listed = (await client.get("/api/v1/documents", params={"limit": 200})).json()["items"]
    assert {d["document_id"] for d in listed} >= set(ids.values())
    assert any(d["shared"] for d in listed), "the shared library is listed too"

    assert (await client.delete(f"/api/v1/documents/{ids['runbook.md']}")).status_code == 204
    assert_problem(await client.get(f"/api/v1/documents/{ids['runbook.md']}"), 404)
    assert (await client.get("/api/v1/documents/search", params={"q": "zebrafish"})).json() == []


async def test_bad_documents_are_refused_plainly(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/api/v1/documents", files={"file": ("photo.png", b"\x89PNG")}), 422)
    assert "unsupported file type" in body["detail"]
    assert (
        "PDF"
        in assert_problem(await client.post("/api/v1/documents", files={"file": ("x.pdf", b"%PDF-1.4 junk")}), 422)[
            "detail"
        ]
    )
    assert_problem(await client.post("/api/v1/documents", files={"file": ("x.docx", b"not a zip")}), 422)
    assert_problem(await client.post("/api/v1/documents", files={"file": ("empty.md", b"   \n")}), 422)
    assert_problem(await client.post("/api/v1/documents", files={"file": ("big.md", b"a " * 200_000)}), 413)
    shared = next(d for d in (await client.get("/api/v1/documents")).json()["items"] if d["shared"])
    assert_problem(await client.delete(f"/api/v1/documents/{shared['document_id']}"), 404)
