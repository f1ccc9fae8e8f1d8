"""Row-level security on the tests' real server: the gateway's role sees one company, or nothing; the
pipeline's role, scoped to a company (as a stage is, once its run is loaded), sees that company only.

The tables are read from the catalog, so a table added without a policy fails these tests.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from coursegen.gateway.settings import GatewaySettings
from coursegen.shared.settings import Settings
from coursegen.shared.store import COMPANY_SETTING
from coursegen.stack.embedded import GATEWAY_ROLE, EmbeddedPostgres
from tests.gateway.conftest import serve_gateway
from tests.helpers import make_company, pipeline, request_job, wait_for_job

NOT_THE_GATEWAYS = {"schema_migrations", "rejected_messages"}
"""Tables the gateway's role has no privilege on at all: the migrations' record, messages refused before
their company was known."""

SHARED = {
    "companies": "id <> $1",
    "kb_documents": "company_id IS NOT NULL",
    "kb_passages": "document_id IN (SELECT document_id FROM kb_documents WHERE company_id IS NOT NULL)",
}
"""What a company sees besides its own rows: nothing, but itself and the shared knowledge base (no company).
Here the filter that counts what it must not see; $1 is its id."""


async def public_tables(conn: asyncpg.Connection[Any]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
         ORDER BY c.relname
        """
    )


@pytest.fixture
async def gateway(postgres: EmbeddedPostgres) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A connection as the gateway's role."""
    conn = await asyncpg.connect(postgres.gateway_url)
    try:
        assert await conn.fetchval("SELECT current_user") == GATEWAY_ROLE
        yield conn
    finally:
        await conn.close()


@pytest.fixture(params=["gateway", "pipeline"])
async def scoped_role(
    request: pytest.FixtureRequest, postgres: EmbeddedPostgres, settings: Settings
) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A connection as the gateway's role, then as the pipeline's: scoped to a company, both see only it."""
    assert settings.database_url
    conn = await asyncpg.connect(postgres.gateway_url if request.param == "gateway" else settings.database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def scoped_count(conn: asyncpg.Connection[Any], company_id: uuid.UUID, table: str, where: str = "") -> int:
    async with conn.transaction():
        await conn.execute("SELECT set_config($1, $2, true)", COMPANY_SETTING, str(company_id))
        args = [company_id] if "$1" in where else []
        count: int = await conn.fetchval(f'SELECT count(*) FROM "{table}" {"WHERE " + where if where else ""}', *args)
        return count


async def fill_company(settings: Settings, db: asyncpg.Pool[Any]) -> uuid.UUID:
    """A company with rows in every table: a finished course, a user signed in, an API key, a learner
    with a link, progress and an attempt, a reviewer's request and action."""
    company_id, employees = await make_company(db)
    first = next(iter(employees.values()))
    async with pipeline(settings):
        job_id = await request_job(settings, company_id, [first])
        await wait_for_job(db, job_id)
    course = await db.fetchrow(
        "SELECT c.course_id, r.session_id FROM courses c JOIN course_runs r ON r.employee_id = c.employee_id "
        "WHERE c.company_id = $1 AND r.job_id = $2",
        company_id,
        job_id,
    )
    assert course is not None
    later = datetime.now(UTC) + timedelta(days=1)
    async with db.acquire() as conn, conn.transaction():
        user_id = await conn.fetchval(
            "INSERT INTO users (company_id, email, name, password_hash) VALUES ($1, $2, 'B', 'x') RETURNING user_id",
            company_id,
            f"{uuid.uuid4().hex[:8]}@example.com",
        )
        await conn.execute(
            "INSERT INTO user_sessions (token_hash, user_id, company_id, csrf_token, expires_at) "
            "VALUES ($1, $2, $3, 'csrf', $4)",
            uuid.uuid4().hex,
            user_id,
            company_id,
            later,
        )
        await conn.execute(
            "INSERT INTO api_keys (company_id, name, prefix, key_hash) VALUES ($1, 'b', 'cg_b', $2)",
            company_id,
            uuid.uuid4().hex,
        )
        await conn.execute(
            "INSERT INTO gateway_job_requests (job_id, company_id, event_id, employees) VALUES ($1, $2, $3, 1) "
            "ON CONFLICT DO NOTHING",
            job_id,
            company_id,
            uuid.uuid4(),
        )
        await conn.execute(
            "INSERT INTO learner_links (token_hash, company_id, employee_id, created_by, expires_at) "
            "VALUES ($1, $2, $3, 'tests', $4)",
            uuid.uuid4().hex,
            company_id,
            first,
            later,
        )
        await conn.execute(
            "INSERT INTO learner_progress (company_id, employee_id, course_id, module_index, fingerprint, status, "
            "version) VALUES ($1, $2, $3, 0, 'f', 'in_progress', 1)",
            company_id,
            first,
            course["course_id"],
        )
        await conn.execute(
            "INSERT INTO quiz_attempts (company_id, employee_id, course_id, version, module_index, answers, correct, "
            "total, score) VALUES ($1, $2, $3, 1, 0, '[0]'::jsonb, 1, 1, 1.0)",
            company_id,
            first,
            course["course_id"],
        )
        await conn.execute(
            "INSERT INTO review_requests (session_id, round, company_id, kind, comment, reviewer, command_event_id) "
            "VALUES ($1, 1, $2, 'replan', 'shorter', 'tests', $3)",
            course["session_id"],
            company_id,
            uuid.uuid4(),
        )
        await conn.execute(
            "INSERT INTO review_audit (company_id, course_id, session_id, actor, action, details) "
            "VALUES ($1, $2, $3, 'tests', 'approve', '{}'::jsonb)",
            company_id,
            course["course_id"],
            course["session_id"],
        )
    return company_id


async def test_every_table_has_row_level_security_enforced(gateway: asyncpg.Connection[Any]) -> None:
    tables = await public_tables(gateway)
    assert len(tables) > 30
    loose = [t["name"] for t in tables if not (t["enabled"] and t["forced"]) and t["name"] != "schema_migrations"]
    assert not loose, f"tables without row-level security enforced: {loose}"
    no_access = {
        t["name"]
        for t in tables
        if not await gateway.fetchval("SELECT has_table_privilege(current_user, $1, 'SELECT')", t["name"])
    }
    assert no_access == NOT_THE_GATEWAYS


async def test_a_company_reads_no_row_of_another_company_in_any_table(
    settings: Settings, db: asyncpg.Pool[Any], scoped_role: asyncpg.Connection[Any]
) -> None:
    other = await fill_company(settings, db)
    mine = await db.fetchval(
        "INSERT INTO companies (name, slug) VALUES ('A', 'rls-' || md5(random()::text)) RETURNING id"
    )
    tables = [t["name"] for t in await public_tables(scoped_role) if t["name"] not in NOT_THE_GATEWAYS]

    # The other company sees its own rows in every table (its transaction is what makes them visible)...
    empty = [t for t in tables if await scoped_count(scoped_role, other, t) == 0]
    assert not empty, f"the filled company sees no rows of its own in: {empty}"
    # ...and a company with nothing of its own sees none of them, anywhere.
    seen = {t: await scoped_count(scoped_role, mine, t, SHARED.get(t, "")) for t in tables}
    assert not {t: n for t, n in seen.items() if n}, f"rows of another company seen: {seen}"
    assert await scoped_count(scoped_role, mine, "companies") == 1  # itself


async def test_without_a_company_the_gateway_reads_nothing(
    settings: Settings, db: asyncpg.Pool[Any], gateway: asyncpg.Connection[Any]
) -> None:
    company_id, _ = await make_company(db)
    tables = [t["name"] for t in await public_tables(gateway) if t["name"] not in NOT_THE_GATEWAYS]
    for scoped in (False, True):
        if scoped:
            # A transaction scoped to a company has ended: the connection is back to nothing.
            assert await scoped_count(gateway, company_id, "employees") > 0
            assert await gateway.fetchval("SELECT current_setting($1, true)", COMPANY_SETTING) == ""
        seen = {t: await gateway.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}
        assert not {t: n for t, n in seen.items() if n}, f"rows seen without a company: {seen}"
    for table in NOT_THE_GATEWAYS:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await gateway.fetchval(f'SELECT count(*) FROM "{table}"')


async def test_a_company_cannot_write_for_another_company(
    db: asyncpg.Pool[Any], scoped_role: asyncpg.Connection[Any]
) -> None:
    gateway = scoped_role
    mine, _ = await make_company(db)
    other, others = await make_company(db)
    their_employee = next(iter(others.values()))

    async def as_mine(sql: str, *args: Any) -> str:
        async with gateway.transaction():
            await gateway.execute("SELECT set_config($1, $2, true)", COMPANY_SETTING, str(mine))
            result: str = await gateway.execute(sql, *args)
            return result

    new_document = "INSERT INTO kb_documents (company_id, title, source_path, format, content_hash) "
    refused = [
        ("INSERT INTO employees (company_id, full_name) VALUES ($1, 'Intruder')", other),
        ("INSERT INTO employee_skills (employee_id, skill_name, level) VALUES ($1, 'Intrusion', 5)", their_employee),
        (new_document + "VALUES ($1, 't', 'p', 'text', 'h')", other),
        # Moving one's own row to another company, and writing into the shared knowledge base.
        ("UPDATE employees SET company_id = $1 WHERE id = ANY(SELECT id FROM employees)", other),
        (new_document + "VALUES (NULL, 't', $1, 'text', 'h')", "shared"),
    ]
    for sql, arg in refused:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await as_mine(sql, arg)
    # Another company's rows are not there to change or delete.
    assert await as_mine("UPDATE employees SET full_name = 'Renamed' WHERE company_id = $1", other) == "UPDATE 0"
    assert await as_mine("DELETE FROM employee_skills WHERE employee_id = $1", their_employee) == "DELETE 0"
    assert await as_mine("DELETE FROM kb_documents WHERE company_id IS NULL OR company_id = $1", other) == "DELETE 0"
    renamed = await db.fetchval("SELECT count(*) FROM employees WHERE company_id = $1 AND full_name = 'Renamed'", other)
    assert renamed == 0


async def test_unscoped_the_pipeline_sees_every_company(settings: Settings, db: asyncpg.Pool[Any]) -> None:
    """What happens before a company is known (a run loaded by its session id, a request's idempotency key)
    and the work that is every company's (the tracker, the sweeps): the pipeline's role, unscoped."""
    first, _ = await make_company(db)
    second, _ = await make_company(db)
    seen = await db.fetchval(
        "SELECT count(DISTINCT company_id) FROM employees WHERE company_id = ANY($1)", [first, second]
    )
    assert seen == 2
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config($1, $2, true)", COMPANY_SETTING, str(first))
        scoped = await conn.fetch(
            "SELECT DISTINCT company_id FROM employees WHERE company_id = ANY($1)", [first, second]
        )
    assert [r["company_id"] for r in scoped] == [first]


async def test_the_lookups_before_the_company_is_known_are_narrow(db: asyncpg.Pool[Any]) -> None:
    """SECURITY DEFINER functions with a fixed search_path, which only the services' roles may call."""
    rows = await db.fetch(
        """
        SELECT p.proname, p.prosecdef, p.proconfig, has_function_privilege('public', p.oid, 'EXECUTE') AS public
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.prosecdef
        """
    )
    assert {r["proname"] for r in rows} == {
        "user_for_sign_in",
        "user_of_session",
        "company_of_api_key",
        "learner_of_link",
        "job_request_key_taken_elsewhere",
    }
    for row in rows:
        assert row["proconfig"] == ["search_path=pg_catalog, pg_temp"], row
        assert not row["public"], f"{row['proname']} is callable by every role"


async def test_the_gateway_runs_as_its_own_role(
    settings: Settings, db: asyncpg.Pool[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Started as the tests start it, the gateway's role sees no company unscoped; as the pipeline's, it warns."""
    await make_company(db)
    gw = GatewaySettings(_env_file=None, host="127.0.0.1")  # type: ignore[call-arg]
    caplog.set_level(logging.WARNING, logger="coursegen.gateway")
    async with serve_gateway(settings, gw):
        pass
    assert "reads every company's rows" not in caplog.text
    async with serve_gateway(settings.model_copy(update={"gateway_database_url": None}), gw):
        pass
    assert "reads every company's rows" in caplog.text
