"""The demo company: roles with required skills, employees with skill gaps, a knowledge base.

Northwind Analytics, a fictional data consultancy. Seeding is idempotent: a
second run finds the company and leaves it as it is (the knowledge base is
re-ingested only where a file changed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursegen.shared import kb
from coursegen.shared.store import Database, connect

DEMO_SLUG = "northwind"
KB_DIR = Path(__file__).parent / "demo_kb"

# role name -> {skill: (required level, importance)}
ROLES: dict[str, dict[str, tuple[int, int]]] = {
    "Data Analyst": {
        "SQL": (3, 5),
        "Data Visualization": (3, 4),
        "Statistics": (2, 4),
        "Python": (2, 3),
        "Stakeholder Communication": (3, 3),
    },
    "Senior Data Analyst": {
        "SQL": (4, 5),
        "Data Visualization": (4, 4),
        "Statistics": (3, 5),
        "Python": (3, 3),
        "Stakeholder Communication": (4, 4),
        "Data Modeling": (3, 3),
    },
    "Junior Software Engineer": {"Python": (2, 5), "Testing": (1, 3), "Git": (2, 3)},
    "Software Engineer": {"Python": (3, 5), "Testing": (3, 4), "Code Review": (3, 3), "Git": (3, 3), "SQL": (2, 2)},
    "Engineering Team Lead": {
        "Code Review": (4, 5),
        "Mentoring": (3, 5),
        "Project Planning": (3, 4),
        "Stakeholder Communication": (3, 4),
        "Testing": (3, 3),
        "Python": (3, 2),
    },
}


@dataclass(frozen=True)
class DemoEmployee:
    name: str
    email: str
    department: str
    role: str
    target_role: str | None
    skills: dict[str, int]


EMPLOYEES = (
    DemoEmployee(
        "Maya Chen",
        "maya.chen@northwind.example",
        "Analytics",
        "Data Analyst",
        "Senior Data Analyst",
        {"SQL": 3, "Data Visualization": 3, "Statistics": 2, "Python": 2, "Stakeholder Communication": 3},
    ),
    DemoEmployee(
        "Omar Haddad",
        "omar.haddad@northwind.example",
        "Engineering",
        "Software Engineer",
        "Engineering Team Lead",
        {"Python": 4, "Testing": 3, "Code Review": 3, "Git": 4, "SQL": 2, "Stakeholder Communication": 2},
    ),
    DemoEmployee(
        "Sofia Rossi",
        "sofia.rossi@northwind.example",
        "Engineering",
        "Junior Software Engineer",
        "Software Engineer",
        {"Python": 2, "Testing": 2, "Git": 2, "Code Review": 1},
    ),
)


async def seed_company(
    db: Any, *, name: str, slug: str, roles: dict[str, dict[str, tuple[int, int]]], employees: tuple[DemoEmployee, ...]
) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    """Create a company with its roles and employees, once. Returns (company id, employee ids by email)."""
    async with db.acquire() as conn, conn.transaction():
        company_id = await conn.fetchval("SELECT id FROM companies WHERE slug = $1", slug)
        if company_id is None:
            company_id = await conn.fetchval(
                "INSERT INTO companies (name, slug) VALUES ($1, $2) RETURNING id", name, slug
            )
            role_ids: dict[str, uuid.UUID] = {}
            for role, skills in roles.items():
                role_ids[role] = await conn.fetchval(
                    "INSERT INTO roles (company_id, name) VALUES ($1, $2) RETURNING id", company_id, role
                )
                await conn.executemany(
                    "INSERT INTO role_skills (role_id, skill_name, required_level, importance) VALUES ($1, $2, $3, $4)",
                    [(role_ids[role], skill, level, importance) for skill, (level, importance) in skills.items()],
                )
            for e in employees:
                employee_id = await conn.fetchval(
                    """
                    INSERT INTO employees (company_id, full_name, email, department, position, current_role_id,
                                           target_role_id)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
                    """,
                    company_id,
                    e.name,
                    e.email,
                    e.department,
                    e.role,
                    role_ids[e.role],
                    role_ids[e.target_role] if e.target_role else None,
                )
                await conn.executemany(
                    "INSERT INTO employee_skills (employee_id, skill_name, level) VALUES ($1, $2, $3)",
                    [(employee_id, skill, level) for skill, level in e.skills.items()],
                )
        rows = await conn.fetch("SELECT id, email FROM employees WHERE company_id = $1", company_id)
    return company_id, {r["email"]: r["id"] for r in rows}


async def seed_knowledge_base(db: Any, company_id: uuid.UUID) -> int:
    """Ingest the demo knowledge base: the shared library and Northwind's own documents."""
    db = db if isinstance(db, Database) else Database(db)
    passages = 0
    for path in sorted((KB_DIR / "library").glob("*.md")):
        passages += await kb.ingest(db, path, company_id=None, source=f"demo_kb/library/{path.name}")
    for path in sorted((KB_DIR / "northwind").glob("*.md")):
        passages += await kb.ingest(db, path, company_id=company_id, source=f"demo_kb/northwind/{path.name}")
    return passages


async def seed_demo(database_url: str) -> uuid.UUID:
    """Seed the demo company and its knowledge base; returns the company id."""
    pool = await connect(database_url)
    try:
        company_id, _ = await seed_company(
            pool, name="Northwind Analytics", slug=DEMO_SLUG, roles=ROLES, employees=EMPLOYEES
        )
        await seed_knowledge_base(pool, company_id)
    finally:
        await pool.close()
    return company_id
