"""People and roles: companies, roles with their required skills, employees with their skills.

Every read and write takes the caller's ``company_id`` and filters on it: an id
of another company's role or employee finds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Company(_Frozen):
    id: uuid.UUID
    name: str
    slug: str
    created_at: datetime


class RoleSkill(_Frozen):
    skill_name: str
    required_level: int
    importance: int


class Role(_Frozen):
    id: uuid.UUID
    name: str
    description: str
    skills: tuple[RoleSkill, ...] = ()


class EmployeeSkill(_Frozen):
    skill_name: str
    level: int


class Employee(_Frozen):
    id: uuid.UUID
    external_id: str | None
    full_name: str
    email: str | None
    department: str | None
    position: str | None
    current_role_id: uuid.UUID | None
    current_role: str | None
    target_role_id: uuid.UUID | None
    target_role: str | None
    is_active: bool
    skills: tuple[EmployeeSkill, ...] = ()


class EmployeeInput(_Frozen):
    """What a write of one employee carries (roles already resolved to ids of the same company)."""

    full_name: str
    external_id: str | None = None
    email: str | None = None
    department: str | None = None
    position: str | None = None
    current_role_id: uuid.UUID | None = None
    target_role_id: uuid.UUID | None = None
    is_active: bool = True
    skills: tuple[EmployeeSkill, ...] = ()


# --- companies ---------------------------------------------------------------------------------


async def create_company(conn: Connection, *, name: str, slug: str) -> Company:
    row = await conn.fetchrow(
        "INSERT INTO companies (name, slug) VALUES ($1, $2) RETURNING id, name, slug, created_at", name, slug
    )
    assert row is not None
    return Company(**dict(row))


async def get_company(conn: Connection, company_id: uuid.UUID) -> Company | None:
    row = await conn.fetchrow("SELECT id, name, slug, created_at FROM companies WHERE id = $1", company_id)
    return Company(**dict(row)) if row else None


async def get_company_by_slug(conn: Connection, slug: str) -> Company | None:
    row = await conn.fetchrow("SELECT id, name, slug, created_at FROM companies WHERE slug = $1", slug)
    return Company(**dict(row)) if row else None


# --- roles -------------------------------------------------------------------------------------

_ROLES = """
SELECT r.id, r.name, r.description,
       coalesce(json_agg(json_build_object('skill_name', s.skill_name, 'required_level', s.required_level,
                                           'importance', s.importance) ORDER BY s.skill_name)
                FILTER (WHERE s.skill_name IS NOT NULL), '[]') AS skills
  FROM roles r LEFT JOIN role_skills s ON s.role_id = r.id
 WHERE r.company_id = $1 {where}
 GROUP BY r.id
 ORDER BY r.name
"""


def _role(row: Any) -> Role:
    return Role(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        skills=tuple(RoleSkill(**s) for s in row["skills"]),
    )


async def list_roles(conn: Connection, company_id: uuid.UUID) -> list[Role]:
    rows = await conn.fetch(_ROLES.format(where=""), company_id)
    return [_role(r) for r in rows]


async def get_role(conn: Connection, company_id: uuid.UUID, role_id: uuid.UUID) -> Role | None:
    row = await conn.fetchrow(_ROLES.format(where="AND r.id = $2"), company_id, role_id)
    return _role(row) if row else None


async def role_ids_by_name(conn: Connection, company_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """The company's roles by lower-cased name (names are matched without regard to case)."""
    rows = await conn.fetch("SELECT id, name FROM roles WHERE company_id = $1", company_id)
    return {r["name"].casefold(): r["id"] for r in rows}


async def save_role(
    conn: Connection,
    company_id: uuid.UUID,
    *,
    name: str,
    description: str,
    skills: Sequence[RoleSkill],
    role_id: uuid.UUID | None = None,
) -> Role | None:
    """Create a role, or replace one of the company's (None when ``role_id`` is not the company's)."""
    if role_id is None:
        role_id = await conn.fetchval(
            "INSERT INTO roles (company_id, name, description) VALUES ($1, $2, $3) RETURNING id",
            company_id,
            name,
            description,
        )
    else:
        found = await conn.fetchval(
            "UPDATE roles SET name = $3, description = $4 WHERE id = $2 AND company_id = $1 RETURNING id",
            company_id,
            role_id,
            name,
            description,
        )
        if found is None:
            return None
        await conn.execute("DELETE FROM role_skills WHERE role_id = $1", role_id)
    await conn.executemany(
        "INSERT INTO role_skills (role_id, skill_name, required_level, importance) VALUES ($1, $2, $3, $4)",
        [(role_id, s.skill_name, s.required_level, s.importance) for s in skills],
    )
    assert role_id is not None
    return await get_role(conn, company_id, role_id)


async def role_name_taken(
    conn: Connection, company_id: uuid.UUID, name: str, *, except_id: uuid.UUID | None = None
) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM roles WHERE company_id = $1 AND lower(name) = lower($2) AND id IS DISTINCT FROM $3",
        company_id,
        name,
        except_id,
    )
    return bool(found)


# --- employees ---------------------------------------------------------------------------------

_EMPLOYEES = """
SELECT e.id, e.external_id, e.full_name, e.email, e.department, e.position, e.is_active,
       e.current_role_id, cr.name AS current_role, e.target_role_id, tr.name AS target_role,
       coalesce((SELECT json_agg(json_build_object('skill_name', s.skill_name, 'level', s.level)
                                 ORDER BY s.skill_name)
                   FROM employee_skills s WHERE s.employee_id = e.id), '[]') AS skills
  FROM employees e
  LEFT JOIN roles cr ON cr.id = e.current_role_id
  LEFT JOIN roles tr ON tr.id = e.target_role_id
 WHERE e.company_id = $1 {where}
"""


def _employee(row: Any) -> Employee:
    data = dict(row)
    data["skills"] = tuple(EmployeeSkill(**s) for s in data["skills"])
    return Employee(**data)


async def list_employees(
    conn: Connection,
    company_id: uuid.UUID,
    *,
    limit: int = 50,
    offset: int = 0,
    role_id: uuid.UUID | None = None,
) -> tuple[list[Employee], int]:
    """A page of the company's employees by name, and how many there are in all."""
    where = "AND ($2::uuid IS NULL OR e.current_role_id = $2)"
    rows = await conn.fetch(
        _EMPLOYEES.format(where=where) + " ORDER BY e.full_name, e.id LIMIT $3 OFFSET $4",
        company_id,
        role_id,
        limit,
        offset,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM employees WHERE company_id = $1 AND ($2::uuid IS NULL OR current_role_id = $2)",
        company_id,
        role_id,
    )
    return [_employee(r) for r in rows], int(total or 0)


async def get_employee(conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID) -> Employee | None:
    row = await conn.fetchrow(_EMPLOYEES.format(where="AND e.id = $2"), company_id, employee_id)
    return _employee(row) if row else None


async def employees_by_ids(
    conn: Connection, company_id: uuid.UUID, employee_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Which of ``employee_ids`` are active employees of the company."""
    rows = await conn.fetch(
        "SELECT id FROM employees WHERE company_id = $1 AND is_active AND id = ANY($2::uuid[])",
        company_id,
        list(employee_ids),
    )
    return [r["id"] for r in rows]


async def active_employee_ids(
    conn: Connection, company_id: uuid.UUID, *, role_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT id FROM employees WHERE company_id = $1 AND is_active AND ($2::uuid IS NULL OR current_role_id = $2) "
        "ORDER BY full_name",
        company_id,
        role_id,
    )
    return [r["id"] for r in rows]


async def existing_external_ids(conn: Connection, company_id: uuid.UUID, external_ids: Sequence[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT external_id FROM employees WHERE company_id = $1 AND external_id = ANY($2::text[])",
        company_id,
        list(external_ids),
    )
    return {r["external_id"] for r in rows}


async def employee_id_by_external_id(conn: Connection, company_id: uuid.UUID, external_id: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM employees WHERE company_id = $1 AND external_id = $2", company_id, external_id
    )
    return found


async def _write_skills(conn: Connection, employee_id: uuid.UUID, skills: Sequence[EmployeeSkill]) -> None:
    await conn.execute("DELETE FROM employee_skills WHERE employee_id = $1", employee_id)
    await conn.executemany(
        "INSERT INTO employee_skills (employee_id, skill_name, level) VALUES ($1, $2, $3)",
        [(employee_id, s.skill_name, s.level) for s in skills],
    )


async def _roles_belong(conn: Connection, company_id: uuid.UUID, data: EmployeeInput) -> bool:
    wanted = {r for r in (data.current_role_id, data.target_role_id) if r is not None}
    if not wanted:
        return True
    found = await conn.fetchval(
        "SELECT count(*) FROM roles WHERE company_id = $1 AND id = ANY($2::uuid[])", company_id, list(wanted)
    )
    return int(found or 0) == len(wanted)


class ForeignRoleError(ValueError):
    """A role id that is not one of the company's."""


async def create_employee(conn: Connection, company_id: uuid.UUID, data: EmployeeInput) -> Employee:
    if not await _roles_belong(conn, company_id, data):
        raise ForeignRoleError("unknown role")
    employee_id = await conn.fetchval(
        """
        INSERT INTO employees (company_id, external_id, full_name, email, department, position,
                               current_role_id, target_role_id, is_active)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
        """,
        company_id,
        data.external_id,
        data.full_name,
        data.email,
        data.department,
        data.position,
        data.current_role_id,
        data.target_role_id,
        data.is_active,
    )
    await _write_skills(conn, employee_id, data.skills)
    found = await get_employee(conn, company_id, employee_id)
    assert found is not None
    return found


async def update_employee(
    conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID, data: EmployeeInput
) -> Employee | None:
    """Replace one of the company's employees; None when the id is not the company's."""
    if not await _roles_belong(conn, company_id, data):
        raise ForeignRoleError("unknown role")
    found = await conn.fetchval(
        """
        UPDATE employees
           SET external_id = $3, full_name = $4, email = $5, department = $6, position = $7,
               current_role_id = $8, target_role_id = $9, is_active = $10
         WHERE company_id = $1 AND id = $2 RETURNING id
        """,
        company_id,
        employee_id,
        data.external_id,
        data.full_name,
        data.email,
        data.department,
        data.position,
        data.current_role_id,
        data.target_role_id,
        data.is_active,
    )
    if found is None:
        return None
    await _write_skills(conn, employee_id, data.skills)
    return await get_employee(conn, company_id, employee_id)


async def upsert_employee(conn: Connection, company_id: uuid.UUID, data: EmployeeInput) -> tuple[Employee, bool]:
    """Create or replace the employee with ``data.external_id``; True when created."""
    assert data.external_id is not None
    if not await _roles_belong(conn, company_id, data):
        raise ForeignRoleError("unknown role")
    row = await conn.fetchrow(
        """
        INSERT INTO employees (company_id, external_id, full_name, email, department, position,
                               current_role_id, target_role_id, is_active)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (company_id, external_id) WHERE external_id IS NOT NULL DO UPDATE
           SET full_name = EXCLUDED.full_name, email = EXCLUDED.email, department = EXCLUDED.department,
               position = EXCLUDED.position, current_role_id = EXCLUDED.current_role_id,
               target_role_id = EXCLUDED.target_role_id, is_active = EXCLUDED.is_active, updated_at = now()
        RETURNING id, (xmax = 0) AS created
        """,
        company_id,
        data.external_id,
        data.full_name,
        data.email,
        data.department,
        data.position,
        data.current_role_id,
        data.target_role_id,
        data.is_active,
    )
    assert row is not None
    await _write_skills(conn, row["id"], data.skills)
    found = await get_employee(conn, company_id, row["id"])
    assert found is not None
    return found, bool(row["created"])


@dataclass(frozen=True)
class RequiredSkill:
    """A skill a role asks for."""

    level: int
    """1-5."""
    importance: int = 3
    """1-5: how much the skill matters to the role."""


@dataclass(frozen=True)
class NewEmployee:
    full_name: str
    email: str | None = None
    department: str | None = None
    position: str | None = None
    current_role_id: uuid.UUID | None = None
    target_role_id: uuid.UUID | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    """Skill name → level (0-5)."""


async def company_by_slug(conn: Connection, slug: str) -> uuid.UUID | None:
    company_id: uuid.UUID | None = await conn.fetchval("SELECT id FROM companies WHERE slug = $1", slug)
    return company_id


async def company_exists(conn: Connection, company_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM companies WHERE id = $1", company_id))


async def ensure_company(conn: Connection, *, name: str, slug: str) -> tuple[uuid.UUID, bool]:
    """The company with this slug, created when there is none: (its id, whether it was created now)."""
    created: uuid.UUID | None = await conn.fetchval(
        "INSERT INTO companies (name, slug) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING RETURNING id", name, slug
    )
    if created is not None:
        return created, True
    existing = await company_by_slug(conn, slug)
    if existing is None:  # deleted between the two statements
        raise LookupError(f"company {slug!r} vanished while it was being created")
    return existing, False


async def add_role_with_skills(
    conn: Connection, company_id: uuid.UUID, name: str, skills: Mapping[str, RequiredSkill]
) -> uuid.UUID:
    """A new role of the company and the skills it requires; returns the role's id."""
    role_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO roles (company_id, name) VALUES ($1, $2) RETURNING id", company_id, name
    )
    await conn.executemany(
        "INSERT INTO role_skills (role_id, skill_name, required_level, importance) VALUES ($1, $2, $3, $4)",
        [(role_id, skill, s.level, s.importance) for skill, s in skills.items()],
    )
    return role_id


async def add_employee_with_skills(conn: Connection, company_id: uuid.UUID, employee: NewEmployee) -> uuid.UUID:
    """A new employee of the company and their skill levels; returns the employee's id."""
    employee_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO employees (company_id, full_name, email, department, position, current_role_id, target_role_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
        """,
        company_id,
        employee.full_name,
        employee.email,
        employee.department,
        employee.position,
        employee.current_role_id,
        employee.target_role_id,
    )
    await conn.executemany(
        "INSERT INTO employee_skills (employee_id, skill_name, level) VALUES ($1, $2, $3)",
        [(employee_id, skill, level) for skill, level in employee.skills.items()],
    )
    return employee_id


async def employee_ids_by_email(conn: Connection, company_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Email → id of the company's employees that have an email."""
    rows = await conn.fetch("SELECT id, email FROM employees WHERE company_id = $1 AND email IS NOT NULL", company_id)
    return {r["email"]: r["id"] for r in rows}


class EmployeeProfile(BaseModel):
    """What the planner knows of an employee: who they are, where they stand, where they are going."""

    model_config = ConfigDict(frozen=True)

    employee_id: uuid.UUID
    name: str
    position: str | None
    department: str | None
    current_role: str | None
    target_role: str | None
    plan_role_id: uuid.UUID | None
    """The role the course prepares for: the target role, else the current one."""
    language: str
    skills: dict[str, int]
    """Current level (0-5) of each skill the employee has."""


async def employee_profile(conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID) -> EmployeeProfile | None:
    """An employee of this company with their skills; None when there is no such employee in it."""
    row = await conn.fetchrow(
        """
        SELECT e.id, e.full_name, e.position, e.department, cr.name AS current_role, tr.name AS target_role,
               coalesce(e.target_role_id, e.current_role_id) AS plan_role_id,
               coalesce(e.profile->>'language', 'en') AS language,
               coalesce((SELECT jsonb_object_agg(s.skill_name, s.level) FROM employee_skills s
                          WHERE s.employee_id = e.id), '{}'::jsonb) AS skills
          FROM employees e
          LEFT JOIN roles cr ON cr.id = e.current_role_id
          LEFT JOIN roles tr ON tr.id = e.target_role_id
         WHERE e.id = $1 AND e.company_id = $2
        """,
        employee_id,
        company_id,
    )
    if row is None:
        return None
    return EmployeeProfile(
        employee_id=row["id"],
        name=row["full_name"],
        position=row["position"],
        department=row["department"],
        current_role=row["current_role"],
        target_role=row["target_role"] or row["current_role"],
        plan_role_id=row["plan_role_id"],
        language=row["language"],
        skills=dict(sorted(row["skills"].items())),
    )


async def employee_language(conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID) -> str:
    """The language the employee's course is written in (read live: a corrected profile counts on resume)."""
    language: str | None = await conn.fetchval(
        "SELECT profile->>'language' FROM employees WHERE id = $1 AND company_id = $2", employee_id, company_id
    )
    return language or "en"


async def role_skills(conn: Connection, company_id: uuid.UUID, role_id: uuid.UUID) -> list[RoleSkill]:
    rows = await conn.fetch(
        """
        SELECT s.skill_name, s.required_level, s.importance
          FROM role_skills s JOIN roles r ON r.id = s.role_id
         WHERE s.role_id = $1 AND r.company_id = $2
         ORDER BY s.skill_name
        """,
        role_id,
        company_id,
    )
    return [
        RoleSkill(skill_name=r["skill_name"], required_level=r["required_level"], importance=r["importance"])
        for r in rows
    ]


async def active_employees_among(
    conn: Connection, company_id: uuid.UUID, employee_ids: list[uuid.UUID]
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Of these ids, (the company's active employees, its inactive ones). Anything else is not the company's."""
    rows = await conn.fetch(
        "SELECT id, is_active FROM employees WHERE id = ANY($1::uuid[]) AND company_id = $2", employee_ids, company_id
    )
    return {r["id"] for r in rows if r["is_active"]}, {r["id"] for r in rows if not r["is_active"]}
