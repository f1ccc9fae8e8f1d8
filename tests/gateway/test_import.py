"""Importing employees from a CSV through the API: spreadsheet dialects work, every problem is named by line and
column, and a file with any problem imports nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.test_api import assert_problem

HEADER = "employee_id,name,email,department,role,target_role,SQL,Python"


async def names(client: httpx.AsyncClient) -> set[str]:
    return {e["full_name"] for e in (await client.get("/api/v1/employees", params={"limit": 200})).json()["items"]}


async def import_csv(client: httpx.AsyncClient, data: bytes) -> httpx.Response:
    return await client.post("/api/v1/employees/import", content=data, headers={"Content-Type": "text/csv"})


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("comma", f"{HEADER}\nE1,Ana Lima,ana@example.com,Analytics,Data Analyst,,2,1\n".encode()),
        (
            "bom, semicolons, CRLF",
            ("\ufeff" + HEADER.replace(",", ";") + "\r\nE1;Ana Lima;;;Data Analyst;;2;1\r\n").encode(),
        ),
        ("tabs", (HEADER.replace(",", "\t") + "\nE1\tAna Lima\t\t\tdata analyst\t\t2\t\n").encode()),
    ],
)
async def test_spreadsheet_dialects_import(client: httpx.AsyncClient, label: str, data: bytes) -> None:
    response = await import_csv(client, data)
    assert response.status_code == 200, (label, response.text)
    assert response.json() == {"imported": 1, "created": 1, "updated": 0}
    employees = (await client.get("/api/v1/employees", params={"limit": 200})).json()["items"]
    ana = next(e for e in employees if e["full_name"] == "Ana Lima")
    assert ana["current_role"] == "Data Analyst" and ana["external_id"] == "E1"
    assert {"skill_name": "SQL", "level": 2} in ana["skills"]


async def test_quoted_commas_and_non_ascii_names_survive(client: httpx.AsyncClient) -> None:
    data = (
        f'{HEADER}\r\nE1,"Núñez, José",jose@example.com,"Sales, EMEA",Data Analyst,Senior Data Analyst,3,\r\n'
        "E2,Zoë Ødegård,,,Software Engineer,,,4\r\nE3,山田 太郎,,,Software Engineer,,1,1\r\n"
    ).encode()
    response = await import_csv(client, data)
    assert response.json()["imported"] == 3, response.text
    employees = {e["full_name"]: e for e in (await client.get("/api/v1/employees")).json()["items"]}
    assert employees["Núñez, José"]["department"] == "Sales, EMEA"
    assert employees["Núñez, José"]["target_role"] == "Senior Data Analyst"
    assert {"Zoë Ødegård", "山田 太郎"} <= set(employees)
    # The same file again updates the same employees: nothing is duplicated.
    again = (await import_csv(client, data)).json()
    assert (again["created"], again["updated"]) == (0, 3)
    assert len(await names(client)) == 6


async def test_a_multipart_upload_works_too(client: httpx.AsyncClient) -> None:
    data = f"{HEADER}\nE1,Ana Lima,,,Data Analyst,,2,1\n".encode()
    response = await client.post("/api/v1/employees/import", files={"file": ("people.csv", data, "text/csv")})
    assert response.json()["imported"] == 1, response.text


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = assert_problem(response, 422)
    assert "nothing was imported" in body["detail"]
    errors: list[dict[str, Any]] = body["errors"]
    return errors


@pytest.mark.parametrize(
    ("rows", "line", "column", "message"),
    [
        ("E1,Ana,,,Astronaut,,2,1", 2, "role", "unknown role 'Astronaut'"),
        ("E1,Ana,,,Data Analyst,Wizard,2,1", 2, "target_role", "unknown role 'Wizard'"),
        ("E1,Ana,,,Data Analyst,,7,1", 2, "SQL", "level 7 is out of range 0–5"),
        ("E1,Ana,,,Data Analyst,,-1,1", 2, "SQL", "level -1 is out of range 0–5"),
        ("E1,Ana,,,Data Analyst,,two,1", 2, "SQL", "level 'two' is not a whole number 0–5"),
        (
            "E1,Ana,,,Data Analyst,,2,1\nE1,Ben,,,Data Analyst,,2,1",
            3,
            "employee_id",
            "duplicate employee id 'E1' (first on line 2)",
        ),
        ("E1,,,,Data Analyst,,2,1", 2, "name", "name is empty"),
        ("E1,Ana,not-an-email,,Data Analyst,,2,1", 2, "email", "'not-an-email' is not an email address"),
    ],
)
async def test_each_problem_is_reported_by_line_and_column_and_nothing_is_imported(
    client: httpx.AsyncClient, rows: str, line: int, column: str, message: str
) -> None:
    before = await names(client)
    good = "E9,Good Row,,,Data Analyst,,1,1"
    errors = errors_of(await import_csv(client, f"{HEADER}\n{rows}\n{good}\n".encode()))
    assert errors == [{"line": line, "column": column, "message": message}]
    assert await names(client) == before, "a file with a problem must import nothing"


async def test_a_missing_column_is_named(client: httpx.AsyncClient) -> None:
    errors = errors_of(await import_csv(client, b"employee_id,name,SQL\nE1,Ana,2\n"))
    assert {"line": 1, "column": "role", "message": "missing column 'role'"} in errors


async def test_too_many_rows_or_bytes_are_refused(client: httpx.AsyncClient) -> None:
    rows = "\n".join(f"E{i},Person {i},,,Data Analyst,,1,1" for i in range(51))  # the test gateway allows 50
    errors = errors_of(await import_csv(client, f"{HEADER}\n{rows}\n".encode()))
    assert any("more than 50 rows" in e["message"] for e in errors)
    big = await import_csv(client, b"x" * (300 * 1024))
    assert_problem(big, 413)


async def test_not_utf8_and_empty_files_are_explained(client: httpx.AsyncClient) -> None:
    errors = errors_of(await import_csv(client, f"{HEADER}\nE1,Jos\xe9,,,Data Analyst,,1,1\n".encode("latin-1")))
    assert "not UTF-8" in errors[0]["message"] and errors[0]["line"] == 2
    assert errors_of(await import_csv(client, b""))[0]["message"] == "the file is empty"
    assert "no employees" in errors_of(await import_csv(client, f"{HEADER}\n".encode()))[0]["message"]
