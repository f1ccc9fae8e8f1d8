"""PostgreSQL least privilege on the tests' real server: services connect as a role that owns nothing."""

from __future__ import annotations

import stat
import subprocess
from typing import Any

import asyncpg
import pytest

from coursegen.stack import migrate as migrate_module
from coursegen.stack.embedded import APP_ROLE, OWNER_ROLE, EmbeddedPostgres
from coursegen.stack.migrate import dbmate_url

FORBIDDEN = [
    "CREATE TABLE intruder (x int)",
    "DROP TABLE employees",
    "ALTER TABLE employees ADD COLUMN intruder int",
    "TRUNCATE employees",
    "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "CREATE ROLE intruder",
    "CREATE DATABASE intruder",
    "DELETE FROM schema_migrations",
]


@pytest.mark.parametrize("sql", FORBIDDEN)
async def test_the_app_role_cannot_change_the_schema_or_run_programs(postgres: EmbeddedPostgres, sql: str) -> None:
    conn = await asyncpg.connect(postgres.url)
    try:
        assert await conn.fetchval("SELECT current_user") == APP_ROLE
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)
        # The schema is as the migrations left it.
        assert await conn.fetchval("SELECT to_regclass('intruder')") is None
        assert await conn.fetchval("SELECT to_regclass('employees')") is not None
    finally:
        await conn.close()


async def test_the_app_role_reads_and_writes_rows(postgres: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(postgres.url)
    try:
        async with conn.transaction():
            company = await conn.fetchval(
                "INSERT INTO companies (name, slug) VALUES ('Roles Test', 'roles-' || md5(random()::text)) RETURNING id"
            )
            assert await conn.fetchval("SELECT count(*) FROM companies WHERE id = $1", company) == 1
            await conn.execute("DELETE FROM companies WHERE id = $1", company)
        attributes = await conn.fetchrow(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert attributes is not None and not any(attributes.values())
    finally:
        await conn.close()


async def test_only_passwords_get_in(postgres: EmbeddedPostgres) -> None:
    """scram-sha-256 for every connection, never trust; the passwords are in a file only its owner reads."""
    assert stat.S_IMODE(postgres.passwords_file.stat().st_mode) == 0o600
    for role in ("postgres", OWNER_ROLE, APP_ROLE):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(f"postgresql://{role}:wrong@127.0.0.1:{postgres.port}/{postgres.database}")
    owner = await asyncpg.connect(postgres.owner_url)
    try:
        assert await owner.fetchval("SELECT current_user") == OWNER_ROLE
        rules: list[Any] = await owner.fetch("SELECT auth_method FROM pg_hba_file_rules WHERE error IS NULL")
    except asyncpg.InsufficientPrivilegeError:
        rules = []  # pg_hba_file_rules is the superuser's; read the file instead
    finally:
        await owner.close()
    hba = [
        line.split()
        for line in (postgres.pgdata / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert hba and all(fields[-1] == "scram-sha-256" for fields in hba), hba
    assert all(r["auth_method"] == "scram-sha-256" for r in rules)


def test_migrate_passes_the_url_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen["args"], seen["env"] = args, kwargs.get("env") or {}
        return subprocess.CompletedProcess(args, 0, "Applied: nothing\n", "")

    monkeypatch.setattr(migrate_module.subprocess, "run", run)
    migrate_module.migrate("postgresql://coursegen_owner:s3cret-pw@db.internal:5432/coursegen")
    assert not any("s3cret-pw" in arg for arg in seen["args"]), "the password must not be on the command line"
    assert any("s3cret-pw" in value for value in seen["env"].values())


@pytest.mark.parametrize(
    ("url", "sslmode"),
    [
        ("postgresql://u:p@127.0.0.1:5432/db", "disable"),
        ("postgresql://u:p@localhost/db", "disable"),
        ("postgresql://u:p@db.internal:5432/db", None),
        ("postgresql://u:p@db.internal:5432/db?sslmode=verify-full", "verify-full"),
        ("postgresql://u:p@127.0.0.1/db?sslmode=require", "require"),
    ],
)
def test_migrate_keeps_tls_for_remote_servers(url: str, sslmode: str | None) -> None:
    converted = dbmate_url(url)
    if sslmode is None:
        assert "sslmode" not in converted
    else:
        assert f"sslmode={sslmode}" in converted


async def test_a_deleted_data_dir_starts_afresh(tmp_path: Any) -> None:
    """As root the cluster lives outside the data dir; deleting the data dir (and its passwords) must not
    leave a cluster nobody can sign in to."""
    import os
    import shutil

    data = tmp_path / "postgres"
    first = EmbeddedPostgres(data).start()
    first.stop()
    shutil.rmtree(data)

    again = EmbeddedPostgres(data).start()
    try:
        conn = await asyncpg.connect(again.url)
        try:
            assert await conn.fetchval("SELECT current_user") == APP_ROLE
        finally:
            await conn.close()
        if os.geteuid() == 0:
            assert (data / "cluster-location").exists()
    finally:
        again.destroy()
