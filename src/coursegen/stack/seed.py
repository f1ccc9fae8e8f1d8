"""The demo company: roles with required skills, employees with skill gaps, a knowledge base.

Northwind Analytics, a fictional data consultancy. Seeding is idempotent: a
second run finds the company and leaves it as it is (the knowledge base is
re-ingested only where a file changed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from coursegen.shared import kb
from coursegen.shared.store import Database, connect, people

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
    db: Database,
    *,
    name: str,
    slug: str,
    roles: dict[str, dict[str, tuple[int, int]]],
    employees: tuple[DemoEmployee, ...],
) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    """Create a company with its roles and employees, once. Returns (company id, employee ids by email)."""
    async with db.transaction() as conn:
        company_id, created = await people.ensure_company(conn, name=name, slug=slug)
        if created:
            role_ids: dict[str, uuid.UUID] = {}
            for role, skills in roles.items():
                role_ids[role] = await people.add_role_with_skills(
                    conn,
                    company_id,
                    role,
                    {skill: people.RequiredSkill(level, importance) for skill, (level, importance) in skills.items()},
                )
            for e in employees:
                await people.add_employee_with_skills(
                    conn,
                    company_id,
                    people.NewEmployee(
                        full_name=e.name,
                        email=e.email,
                        department=e.department,
                        position=e.role,
                        current_role_id=role_ids[e.role],
                        target_role_id=role_ids[e.target_role] if e.target_role else None,
                        skills=e.skills,
                    ),
                )
        by_email = await people.employee_ids_by_email(conn, company_id)
    return company_id, by_email


async def seed_knowledge_base(db: Database, company_id: uuid.UUID) -> int:
    """Ingest the demo knowledge base: the shared library and Northwind's own documents."""
    passages = 0
    for path in sorted((KB_DIR / "library").glob("*.md")):
        passages += await kb.ingest(db, path, company_id=None, source=f"demo_kb/library/{path.name}")
    for path in sorted((KB_DIR / "northwind").glob("*.md")):
        passages += await kb.ingest(db, path, company_id=company_id, source=f"demo_kb/northwind/{path.name}")
    return passages


async def seed_demo(database_url: str) -> uuid.UUID:
    """Seed the demo company and its knowledge base; returns the company id."""
    db = Database(await connect(database_url))
    try:
        company_id, _ = await seed_company(
            db, name="Northwind Analytics", slug=DEMO_SLUG, roles=ROLES, employees=EMPLOYEES
        )
        await seed_knowledge_base(db, company_id)
    finally:
        await db.close()
    return company_id
