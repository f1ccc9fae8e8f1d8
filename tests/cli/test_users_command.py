"""``coursegen company add``, ``user add`` and ``apikey create`` against a real PostgreSQL: what an operator
does to let a learning team and an HR system in."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coursegen.cli.main import app
from coursegen.gateway.security import digest, verify_password
from coursegen.shared.settings import Settings
from coursegen.shared.store import connect
from coursegen.shared.store.users import api_key_company, user_by_email

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("COURSEGEN_NATS_URL", "COURSEGEN_DATABASE_URL", "COURSEGEN_DATA_DIR", "COURSEGEN_NEW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_an_operator_adds_a_company_a_user_and_an_api_key(settings: Settings) -> None:
    assert settings.database_url
    env = {"COURSEGEN_DATABASE_URL": settings.database_url, "COLUMNS": "200"}
    name = f"Acme {uuid.uuid4().hex[:8]}"
    added = runner.invoke(app, ["company", "add", name], env=env)
    assert added.exit_code == 0, added.output
    printed = re.search(r"company ([0-9a-f-]{36})", added.output)
    assert printed, added.output
    company_id = uuid.UUID(printed.group(1))
    again = runner.invoke(app, ["company", "add", name], env=env)
    assert again.exit_code != 0 and "exists already" in again.output

    email = f"lee-{uuid.uuid4().hex[:6]}@acme.example"
    user = ["user", "add", "--company", str(company_id), "--email", email, "--name", "Lee"]
    short = runner.invoke(app, user, env={**env, "COURSEGEN_NEW_PASSWORD": "short"})
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    bad = runner.invoke(app, [*user[:5], "not-an-email"], env={**env, "COURSEGEN_NEW_PASSWORD": "long enough pw"})
    assert bad.exit_code == 2 and "is not an email address" in bad.output
    # Asked for twice when not in the environment, and never echoed.
    made = runner.invoke(app, user, env=env, input="a long passphrase\na long passphrase\n")
    assert made.exit_code == 0, made.output
    assert "a long passphrase" not in made.output
    twice = runner.invoke(app, user, env={**env, "COURSEGEN_NEW_PASSWORD": "another long one"})
    assert twice.exit_code != 0 and "exists already" in twice.output
    nowhere = runner.invoke(
        app, ["user", "add", "--company", str(uuid.uuid4()), "--email", f"x{email}"],
        env={**env, "COURSEGEN_NEW_PASSWORD": "long enough pw"},
    )  # fmt: skip
    assert nowhere.exit_code != 0 and "no company" in nowhere.output

    key_out = runner.invoke(app, ["apikey", "create", "--company", str(company_id), "--name", "HR system"], env=env)
    assert key_out.exit_code == 0, key_out.output
    key = key_out.output.split()[0]
    assert "not shown again" in key_out.output
    assert runner.invoke(app, ["apikey", "create", "--company", str(uuid.uuid4())], env=env).exit_code != 0

    async def stored() -> None:
        assert settings.database_url
        pool = await connect(settings.database_url, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                found = await user_by_email(conn, email)
                assert found is not None and found.company_id == company_id
                assert verify_password(found.password_hash, "a long passphrase")
                assert await api_key_company(conn, digest(key)) == company_id
                assert await conn.fetchval("SELECT count(*) FROM api_keys WHERE key_hash = $1", key) == 0
        finally:
            await pool.close()

    asyncio.run(stored())
