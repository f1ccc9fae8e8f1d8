"""People and roles: companies, their roles with required skills, employees with their skills."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

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
