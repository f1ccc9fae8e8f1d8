"""Reading a CSV of employees and their skills, as a spreadsheet exports it.

One row per employee. Columns ``employee_id``, ``name`` and ``role`` are
required; ``email``, ``department`` and ``target_role`` are optional; every
other column is a skill, its cell the employee's level (0–5, empty: not
assessed). The file may start with a BOM, use ``,``, ``;`` or tabs, Windows
line endings and quoted fields; it must be UTF-8.

Every problem is reported with its line and column, and nothing is imported
until the whole file is valid.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from coursegen.gateway.problems import RowError
from coursegen.shared.store.people import EmployeeInput, EmployeeSkill

REQUIRED = ("employee_id", "name", "role")
OPTIONAL = ("email", "department", "target_role")
ALIASES = {
    "external_id": "employee_id",
    "id": "employee_id",
    "employee": "employee_id",
    "full_name": "name",
    "employee_name": "name",
    "current_role": "role",
    "target": "target_role",
    "e-mail": "email",
    "mail": "email",
}
SAMPLE = (
    "employee_id,name,email,department,role,target_role,SQL,Python,Statistics,Data Visualization\r\n"
    "E-1001,Maya Chen,maya.chen@example.com,Analytics,Data Analyst,Senior Data Analyst,3,2,2,3\r\n"
    'E-1002,"Núñez, José",jose.nunez@example.com,Analytics,Data Analyst,,2,1,1,2\r\n'
    "E-1003,Zoë Ødegård,zoe.odegard@example.com,Engineering,Software Engineer,Engineering Team Lead,2,4,,\r\n"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ImportRow(BaseModel):
    """One employee of the file, validated."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    employee_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=300)
    role: str = Field(min_length=1)
    email: str | None = None
    department: str | None = None
    target_role: str | None = None

    @field_validator("email", "department", "target_role", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value


@dataclass
class PreviewRow:
    line: int
    values: dict[str, str]
    errors: list[RowError] = field(default_factory=list)
    row: ImportRow | None = None
    skills: dict[str, int] = field(default_factory=dict)


@dataclass
class ParsedFile:
    columns: list[str]
    skill_columns: list[str]
    rows: list[PreviewRow]
    errors: list[RowError]
    """Problems of the file as a whole (encoding, missing columns, too many rows)."""

    @property
    def all_errors(self) -> list[RowError]:
        return [*self.errors, *(e for r in self.rows for e in r.errors)]

    @property
    def valid(self) -> bool:
        return not self.all_errors and bool(self.rows)


def _canonical(header: str) -> str:
    key = re.sub(r"\s+", "_", header.strip().casefold())
    return ALIASES.get(key, key)


class NotUtf8(ValueError):
    def __init__(self, line: int) -> None:
        super().__init__("the file is not UTF-8 text; save it as CSV UTF-8")
        self.line = line


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM dropped); ``NotUtf8`` with the line that is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotUtf8(data[: exc.start].count(b"\n") + 1) from None


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    header = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t")
    except csv.Error:
        counts = {d: header.count(d) for d in ",;\t"}
        best = max(counts, key=lambda d: counts[d])

        class Chosen(csv.excel):
            delimiter = best

        return Chosen


def parse(data: bytes | str, *, max_rows: int) -> ParsedFile:
    """Every row with its problems; the roles are checked later, against the company's (``check_roles``)."""
    try:
        text = decode(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    except NotUtf8 as exc:
        return ParsedFile([], [], [], [RowError(line=exc.line, column=None, message=str(exc))])
    if not text.strip():
        return ParsedFile([], [], [], [RowError(line=1, column=None, message="the file is empty")])
    if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        line = text[: next(i for i, c in enumerate(text) if c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF)].count("\n") + 1
        return ParsedFile(
            [], [], [], [RowError(line=line, column=None, message="the file holds characters that are not text")]
        )
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    try:
        header = next(reader)
    except csv.Error as exc:
        return ParsedFile([], [], [], [RowError(line=1, column=None, message=f"not a CSV file: {exc}")])
    columns = [_canonical(h) for h in header]
    errors: list[RowError] = []
    for name in REQUIRED:
        if name not in columns:
            errors.append(RowError(line=1, column=name, message=f"missing column {name!r}"))
    seen: dict[str, int] = {}
    for i, name in enumerate(columns):
        if not name:
            errors.append(RowError(line=1, column=f"#{i + 1}", message=f"column {i + 1} has no name"))
        elif name in seen:
            errors.append(RowError(line=1, column=header[i].strip(), message=f"column {header[i].strip()!r} twice"))
        seen.setdefault(name, i)
    known = set(REQUIRED) | set(OPTIONAL)
    skill_columns = [header[i].strip() for i, name in enumerate(columns) if name and name not in known]
    rows: list[PreviewRow] = []
    first_line: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= max_rows:
                errors.append(RowError(line=line, column=None, message=f"more than {max_rows} rows; split the file"))
                break
            rows.append(_row(line, header, columns, cells, skill_columns, first_line))
    except csv.Error as exc:
        errors.append(RowError(line=reader.line_num, column=None, message=f"cannot read the line: {exc}"))
    if not rows and not errors:
        errors.append(RowError(line=2, column=None, message="the file has a header but no employees"))
    return ParsedFile(columns=[h.strip() for h in header], skill_columns=skill_columns, rows=rows, errors=errors)


def _row(
    line: int,
    header: list[str],
    columns: list[str],
    cells: list[str],
    skill_columns: list[str],
    first_line: dict[str, int],
) -> PreviewRow:
    values = {header[i].strip(): (cells[i].strip() if i < len(cells) else "") for i in range(len(header))}
    preview = PreviewRow(line=line, values=values)
    if len(cells) > len(header):
        extra = [c for c in cells[len(header) :] if c.strip()]
        if extra:
            preview.errors.append(
                RowError(line=line, column=None, message=f"{len(cells)} cells but {len(header)} columns")
            )
    fields = {columns[i]: values[header[i].strip()] for i in range(len(header)) if columns[i] in (*REQUIRED, *OPTIONAL)}
    try:
        preview.row = ImportRow(**fields)
    except ValidationError as exc:
        for err in exc.errors():
            column = str(err["loc"][0]) if err["loc"] else None
            if err["type"] in ("string_too_short", "missing"):
                message = f"{column} is empty"
            else:
                message = str(err["msg"]).removeprefix("Value error, ")
            preview.errors.append(RowError(line=line, column=column, message=message))
    external = fields.get("employee_id", "").strip()
    if external:
        if external in first_line:
            preview.errors.append(
                RowError(
                    line=line,
                    column="employee_id",
                    message=f"duplicate employee id {external!r} (first on line {first_line[external]})",
                )
            )
        else:
            first_line[external] = line
    for skill in skill_columns:
        raw = values.get(skill, "")
        if not raw:
            continue
        try:
            level = int(raw)
        except ValueError:
            preview.errors.append(RowError(line=line, column=skill, message=f"level {raw!r} is not a whole number 0–5"))
            continue
        if not 0 <= level <= 5:
            preview.errors.append(RowError(line=line, column=skill, message=f"level {level} is out of range 0–5"))
            continue
        preview.skills[skill] = level
    return preview


def check_roles(parsed: ParsedFile, role_ids: Mapping[str, uuid.UUID]) -> None:
    """Add an error to every row whose role or target role is not one of the company's (by name, any case)."""
    for preview in parsed.rows:
        if preview.row is None:
            continue
        for column, name in (("role", preview.row.role), ("target_role", preview.row.target_role)):
            if name and name.casefold() not in role_ids:
                preview.errors.append(RowError(line=preview.line, column=column, message=f"unknown role {name!r}"))


def to_inputs(parsed: ParsedFile, role_ids: Mapping[str, uuid.UUID]) -> list[EmployeeInput]:
    """The employees to write, once the file is valid."""
    inputs = []
    for preview in parsed.rows:
        row = preview.row
        assert row is not None
        inputs.append(
            EmployeeInput(
                external_id=row.employee_id,
                full_name=row.name,
                email=row.email,
                department=row.department,
                position=row.role,
                current_role_id=role_ids[row.role.casefold()],
                target_role_id=role_ids[row.target_role.casefold()] if row.target_role else None,
                skills=tuple(EmployeeSkill(skill_name=k, level=v) for k, v in preview.skills.items()),
            )
        )
    return inputs
