"""What the benchmarks write and read: a company of many employees at once, a job's figures, the peers' step rows.

Seeding inserts each table's rows in one statement (``unnest`` of arrays), so
a company of thousands of employees is seeded in well under a second. The
figures of a job are read for that job of that company only.

The peers benchmark writes one row per step of its course shape into
``bench_peer_steps``, a table it creates in the throwaway database the
benchmark starts; it is not part of the application's schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coursegen.shared.store._pool import Connection


@dataclass(frozen=True)
class BenchEmployee:
    name: str
    email: str
    department: str
    role: str
    target_role: str | None
    skills: Mapping[str, int]


@dataclass(frozen=True)
class JobFigures:
    """What a finished job produced, for the benchmark's printout."""

    status: str
    courses: int
    modules: int
    handoffs: int
    """Events on ``coursegen.handoff.*`` that the tracker recorded."""
    events: int
    """Every event of the job the tracker recorded."""
    tokens: int
    last_course_seconds: float | None
    """From the job's creation to its last assembled course (the job ends once the tracker has recorded it all)."""


@dataclass(frozen=True)
class StageBusy:
    stage: str
    runs: int
    seconds: float
    """Summed duration of the stage's successful agent runs."""


async def seed_company_bulk(
    conn: Connection,
    *,
    name: str,
    slug: str,
    roles: Mapping[str, Mapping[str, tuple[int, int]]],
    employees: Sequence[BenchEmployee],
) -> uuid.UUID:
    """Create a company with its roles and employees, each table in one statement. Returns the company id."""
    company_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO companies (name, slug) VALUES ($1, $2) RETURNING id", name, slug
    )
    role_rows = await conn.fetch(
        "INSERT INTO roles (company_id, name) SELECT $1, unnest($2::text[]) RETURNING id, name",
        company_id,
        list(roles),
    )
    role_ids = {r["name"]: r["id"] for r in role_rows}
    skill_rows = [(role_ids[role], s, lvl, imp) for role, skills in roles.items() for s, (lvl, imp) in skills.items()]
    await conn.execute(
        """
        INSERT INTO role_skills (role_id, skill_name, required_level, importance)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[])
        """,
        [r[0] for r in skill_rows],
        [r[1] for r in skill_rows],
        [r[2] for r in skill_rows],
        [r[3] for r in skill_rows],
    )
    employee_rows = await conn.fetch(
        """
        INSERT INTO employees (company_id, full_name, email, department, position, current_role_id, target_role_id)
        SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::uuid[])
        RETURNING id, email
        """,
        company_id,
        [e.name for e in employees],
        [e.email for e in employees],
        [e.department for e in employees],
        [e.role for e in employees],
        [role_ids[e.role] for e in employees],
        [role_ids[e.target_role] if e.target_role else None for e in employees],
    )
    employee_ids = {r["email"]: r["id"] for r in employee_rows}
    levels = [(employee_ids[e.email], skill, level) for e in employees for skill, level in e.skills.items()]
    await conn.execute(
        """
        INSERT INTO employee_skills (employee_id, skill_name, level)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[])
        """,
        [r[0] for r in levels],
        [r[1] for r in levels],
        [r[2] for r in levels],
    )
    return company_id


async def job_status(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> str | None:
    status: str | None = await conn.fetchval(
        "SELECT status FROM course_generation_jobs WHERE job_id = $1 AND company_id = $2", job_id, company_id
    )
    return status


async def job_figures(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> JobFigures | None:
    row = await conn.fetchrow(
        """
        SELECT j.status,
               (SELECT count(*) FROM assembled_courses c WHERE c.job_id = j.job_id AND c.company_id = j.company_id)
                   AS courses,
               (SELECT coalesce(sum(total_modules), 0) FROM assembled_courses c
                 WHERE c.job_id = j.job_id AND c.company_id = j.company_id) AS modules,
               (SELECT count(*) FILTER (WHERE h.subject LIKE 'coursegen.handoff.%') FROM cm_agent_handoffs h
                 WHERE h.job_id = j.job_id AND h.company_id = j.company_id) AS handoffs,
               (SELECT count(*) FROM cm_agent_handoffs h WHERE h.job_id = j.job_id AND h.company_id = j.company_id)
                   AS events,
               (SELECT coalesce(sum(r.input_tokens + r.output_tokens), 0) FROM agent_runs r
                 WHERE r.job_id = j.job_id) AS tokens,
               (SELECT extract(epoch FROM max(c.created_at) - j.created_at) FROM assembled_courses c
                 WHERE c.job_id = j.job_id AND c.company_id = j.company_id) AS last_course_seconds
          FROM course_generation_jobs j
         WHERE j.job_id = $1 AND j.company_id = $2
        """,
        job_id,
        company_id,
    )
    if row is None:
        return None
    return JobFigures(
        status=row["status"],
        courses=int(row["courses"]),
        modules=int(row["modules"]),
        handoffs=int(row["handoffs"]),
        events=int(row["events"]),
        tokens=int(row["tokens"]),
        last_course_seconds=float(row["last_course_seconds"]) if row["last_course_seconds"] is not None else None,
    )


async def course_module_counts(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[int]:
    """Modules of each assembled course of the job: the shape the peers benchmark repeats."""
    rows = await conn.fetch(
        "SELECT total_modules FROM assembled_courses WHERE job_id = $1 AND company_id = $2 ORDER BY created_at",
        job_id,
        company_id,
    )
    return [int(r["total_modules"]) for r in rows]


async def handoff_latencies(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[float]:
    """Seconds from a handoff event's ``occurred_at`` (set as it is published) to the start of the receiving
    stage's successful agent run (its ``created_at`` less its duration): queueing, delivery and the stage's
    pre-agent checks."""
    rows = await conn.fetch(
        """
        SELECT extract(epoch FROM (r.created_at - make_interval(secs => r.duration_ms / 1000.0)) - h.occurred_at)
               AS seconds
          FROM cm_agent_handoffs h
          JOIN agent_runs r ON r.session_id = h.session_id AND r.stage = h.to_agent
                           AND r.module_index = coalesce(h.module_index, -1) AND r.revision = h.revision
                           AND r.status = 'succeeded' AND r.job_id = h.job_id
         WHERE h.job_id = $1 AND h.company_id = $2 AND h.subject LIKE 'coursegen.handoff.%'
        """,
        job_id,
        company_id,
    )
    return [float(r["seconds"]) for r in rows]


async def tracker_lags(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[float]:
    """Seconds from each event's ``occurred_at`` to the tracker's row for it (``handoff_timestamp``)."""
    rows = await conn.fetch(
        """
        SELECT extract(epoch FROM handoff_timestamp - occurred_at) AS seconds
          FROM cm_agent_handoffs
         WHERE job_id = $1 AND company_id = $2 AND occurred_at IS NOT NULL
        """,
        job_id,
        company_id,
    )
    return [float(r["seconds"]) for r in rows]


async def stage_busy(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[StageBusy]:
    """Per stage, the successful agent runs of the job and their summed duration: which stage is the slowest."""
    rows = await conn.fetch(
        """
        SELECT r.stage, count(*) AS runs, coalesce(sum(r.duration_ms), 0) / 1000.0 AS seconds
          FROM agent_runs r
          JOIN course_generation_jobs j ON j.job_id = r.job_id
         WHERE r.job_id = $1 AND j.company_id = $2 AND r.status = 'succeeded'
         GROUP BY r.stage
         ORDER BY seconds DESC
        """,
        job_id,
        company_id,
    )
    return [StageBusy(r["stage"], int(r["runs"]), float(r["seconds"])) for r in rows]


# --- the peers benchmark's own table ---------------------------------------------------------------


async def create_peer_steps_table(conn: Connection) -> None:
    """The table every peer writes its steps into; one row per (run, step, module) at most."""
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS bench_peer_steps (
            peer         TEXT NOT NULL,
            run_key      TEXT NOT NULL,
            step         TEXT NOT NULL,
            module_index INTEGER NOT NULL DEFAULT -1,
            output       JSONB NOT NULL,
            created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (peer, run_key, step, module_index)
        )
        """
    )


async def store_peer_step(
    conn: Connection, *, peer: str, run_key: str, step: str, module_index: int, output: Mapping[str, object]
) -> bool:
    """Store one step's output under its unique key. False when it was stored already (a redelivery)."""
    result: str = await conn.execute(
        """
        INSERT INTO bench_peer_steps (peer, run_key, step, module_index, output) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT DO NOTHING
        """,
        peer,
        run_key,
        step,
        module_index,
        dict(output),
    )
    return result.endswith(" 1")


async def peer_modules_done(conn: Connection, *, peer: str, run_key: str, step: str) -> int:
    """How many modules of a run have stored ``step`` (the finalizer's join)."""
    done: int = await conn.fetchval(
        "SELECT count(*) FROM bench_peer_steps WHERE peer = $1 AND run_key = $2 AND step = $3",
        peer,
        run_key,
        step,
    )
    return done


async def peer_step_counts(conn: Connection, *, peer: str, run_prefix: str) -> tuple[int, int]:
    """(steps stored, finalized runs) for the runs whose key starts with ``run_prefix``."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS steps, count(*) FILTER (WHERE step = 'finalizer') AS finalized
          FROM bench_peer_steps WHERE peer = $1 AND run_key LIKE $2 || '%'
        """,
        peer,
        run_prefix,
    )
    assert row is not None
    return int(row["steps"]), int(row["finalized"])
