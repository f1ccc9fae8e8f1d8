"""People and roles: companies, their roles with required skills, employees with their skills."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


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


class RoleSkill(BaseModel):
    model_config = ConfigDict(frozen=True)

    skill: str
    required_level: int
    importance: int


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
        RoleSkill(skill=r["skill_name"], required_level=r["required_level"], importance=r["importance"]) for r in rows
    ]


async def active_employee_ids(conn: Connection, company_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT id FROM employees WHERE company_id = $1 AND is_active ORDER BY full_name, id", company_id
    )
    return [r["id"] for r in rows]


async def active_employees_among(
    conn: Connection, company_id: uuid.UUID, employee_ids: list[uuid.UUID]
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Of these ids, (the company's active employees, its inactive ones). Anything else is not the company's."""
    rows = await conn.fetch(
        "SELECT id, is_active FROM employees WHERE id = ANY($1::uuid[]) AND company_id = $2", employee_ids, company_id
    )
    return {r["id"] for r in rows if r["is_active"]}, {r["id"] for r in rows if not r["is_active"]}
