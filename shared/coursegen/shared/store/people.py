"""People and roles: companies, roles with their required skills, employees with their skills."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


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


class RequiredSkill(BaseModel):
    model_config = ConfigDict(frozen=True)

    skill: str
    required_level: int
    importance: int


async def company_exists(conn: Connection, company_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM companies WHERE id = $1", company_id))


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


async def role_skills(conn: Connection, company_id: uuid.UUID, role_id: uuid.UUID) -> list[RequiredSkill]:
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
        RequiredSkill(skill=r["skill_name"], required_level=r["required_level"], importance=r["importance"])
        for r in rows
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
