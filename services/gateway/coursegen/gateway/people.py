"""Importing employees: one CSV, checked whole, written in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from coursegen.gateway.csv_import import ParsedFile, check_roles, parse, to_inputs
from coursegen.shared.store import Database
from coursegen.shared.store.people import role_ids_by_name, upsert_employee


@dataclass(frozen=True)
class ImportResult:
    parsed: ParsedFile
    created: int = 0
    updated: int = 0

    @property
    def imported(self) -> int:
        return self.created + self.updated


async def import_employees(
    db: Database, company_id: uuid.UUID, data: bytes | str, *, max_rows: int, commit: bool = True
) -> ImportResult:
    """Check every row (roles against the company's); write them all only when none has a problem.

    An employee whose ``employee_id`` is known already is updated, so importing the same file twice changes
    nothing. ``commit=False`` only checks (the preview).
    """
    parsed = parse(data, max_rows=max_rows)
    async with db.transaction(company_id) as conn:
        role_ids = await role_ids_by_name(conn, company_id)
        check_roles(parsed, role_ids)
        if not parsed.valid or not commit:
            return ImportResult(parsed)
        created = updated = 0
        for employee in to_inputs(parsed, role_ids):
            _, was_created = await upsert_employee(conn, company_id, employee)
            created += was_created
            updated += not was_created
    return ImportResult(parsed, created, updated)
