"""What the benchmarks measure of a job: output, handoff latency, duplicates, re-runs, recovery.

Read-only, like :mod:`coursegen.shared.store.reports`: each read is scoped to
the job's company (``company_id``, as the benchmark seeded it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from coursegen.shared.store._pool import Connection

ARTIFACT_KEYS: dict[str, tuple[str, ...]] = {
    "cm_course_plans": ("session_id",),
    "research_findings": ("session_id", "module_index"),
    "cm_module_content": ("session_id", "module_index", "revision"),
    "quality_reports": ("session_id", "module_index", "revision"),
    "module_enhancements": ("session_id", "module_index", "revision"),
    "module_multimedia": ("session_id", "module_index", "revision"),
    "assembled_courses": ("session_id",),
}
"""Each artifact table and the unique key of what its rows are the result of: a row twice is work done twice."""

# Rows of tables without a company column belong to the company of their job ($1 job, $2 company).
_OF_COMPANY_JOB = (
    "EXISTS (SELECT 1 FROM course_generation_jobs j WHERE j.job_id = {alias}.job_id AND j.company_id = $2)"
)
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class JobThroughput:
    courses: int
    """Assembled courses."""
    modules: int
    """Modules in those courses."""
    handoffs: int
    """Handoffs between stages (``coursegen.handoff.*`` events only)."""
    tokens: int
    """Input and output tokens of every agent run."""


async def job_throughput(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> JobThroughput:
    row = await conn.fetchrow(
        f"""
        SELECT (SELECT count(*) FROM assembled_courses WHERE job_id = $1 AND company_id = $2) AS courses,
               (SELECT coalesce(sum(total_modules), 0) FROM assembled_courses
                 WHERE job_id = $1 AND company_id = $2) AS modules,
               (SELECT count(*) FROM cm_agent_handoffs h
                 WHERE h.job_id = $1 AND h.subject LIKE 'coursegen.handoff.%'
                   AND {_OF_COMPANY_JOB.format(alias="h")}) AS handoffs,
               (SELECT coalesce(sum(a.input_tokens + a.output_tokens), 0) FROM agent_runs a
                 WHERE a.job_id = $1 AND {_OF_COMPANY_JOB.format(alias="a")}) AS tokens
        """,
        job_id,
        company_id,
    )
    assert row is not None
    return JobThroughput(int(row["courses"]), int(row["modules"]), int(row["handoffs"]), int(row["tokens"]))


async def handoff_latencies(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[float]:
    """Seconds from each handoff's publish to the start of the agent run that did its work."""
    rows = await conn.fetch(
        f"""
        SELECT extract(epoch FROM (r.created_at - make_interval(secs => r.duration_ms / 1000.0)) - h.occurred_at)
               AS seconds
          FROM cm_agent_handoffs h
          JOIN agent_runs r ON r.session_id = h.session_id AND r.stage = h.to_agent
                           AND r.module_index = coalesce(h.module_index, -1) AND r.revision = h.revision
                           AND r.status = 'succeeded'
         WHERE h.job_id = $1 AND h.subject LIKE 'coursegen.handoff.%' AND {_OF_COMPANY_JOB.format(alias="h")}
        """,
        job_id,
        company_id,
    )
    return [float(r["seconds"]) for r in rows]


@dataclass(frozen=True)
class UnfinishedRun:
    session_id: str
    status: str
    current_stage: str | None
    last_progress_at: datetime


async def unfinished_runs(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[UnfinishedRun]:
    """The job's course runs that did not end with a course (or with nothing to learn), stalest first."""
    rows = await conn.fetch(
        """
        SELECT session_id, status, current_stage, last_progress_at FROM course_runs
         WHERE job_id = $1 AND company_id = $2 AND status NOT IN ('completed', 'no_gaps')
         ORDER BY last_progress_at
        """,
        job_id,
        company_id,
    )
    return [UnfinishedRun(**dict(r)) for r in rows]


async def duplicate_rows(
    conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID, unique_keys: Mapping[str, Sequence[str]]
) -> int:
    """Groups of the job's rows that share what should be unique: per artifact table, and per handoff.

    ``unique_keys`` maps each artifact table to the columns of its unique key;
    a non-zero answer means a redelivery stored the same work twice.
    """
    total = 0
    for table, columns in unique_keys.items():
        for name in (table, *columns):
            if not _IDENTIFIER.fullmatch(name):
                raise ValueError(f"not a table or column name: {name!r}")
        key = ", ".join(columns)
        total += await conn.fetchval(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} t WHERE t.job_id = $1 AND {_OF_COMPANY_JOB.format(alias='t')}"
            f" GROUP BY {key} HAVING count(*) > 1) d",
            job_id,
            company_id,
        )
    total += await conn.fetchval(
        f"""
        SELECT count(*) FROM (
            SELECT 1 FROM cm_agent_handoffs h
             WHERE h.job_id = $1 AND h.subject LIKE 'coursegen.handoff.%' AND {_OF_COMPANY_JOB.format(alias="h")}
             GROUP BY subject, session_id, module_index, revision, handoff_context->>'epoch' HAVING count(*) > 1
        ) d
        """,
        job_id,
        company_id,
    )
    return int(total)


@dataclass(frozen=True)
class RerunSpend:
    runs: int
    """Agent runs whose output was discarded: another delivery stored the same work first."""
    tokens: int
    """Tokens those runs spent."""
    total_tokens: int
    """Tokens every agent run of the job spent."""


async def rerun_spend(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> RerunSpend:
    row = await conn.fetchrow(
        f"""
        SELECT count(*) FILTER (WHERE a.status = 'discarded') AS runs,
               coalesce(sum(a.input_tokens + a.output_tokens) FILTER (WHERE a.status = 'discarded'), 0) AS tokens,
               coalesce(sum(a.input_tokens + a.output_tokens), 0) AS total
          FROM agent_runs a
         WHERE a.job_id = $1 AND {_OF_COMPANY_JOB.format(alias="a")}
        """,
        job_id,
        company_id,
    )
    assert row is not None
    return RerunSpend(int(row["runs"]), int(row["tokens"]), int(row["total"]))


@dataclass(frozen=True)
class RetriedRun:
    stage: str
    done_at: float
    """When it was stored, in seconds since the epoch (comparable with ``time.time()``)."""


async def retried_successes(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[RetriedRun]:
    """Successful agent runs that were not their message's first delivery, in the order they were stored."""
    rows = await conn.fetch(
        f"""
        SELECT a.stage, extract(epoch FROM a.created_at) AS done FROM agent_runs a
         WHERE a.job_id = $1 AND a.status = 'succeeded' AND a.attempt > 1 AND {_OF_COMPANY_JOB.format(alias="a")}
         ORDER BY a.created_at
        """,
        job_id,
        company_id,
    )
    return [RetriedRun(r["stage"], float(r["done"])) for r in rows]
