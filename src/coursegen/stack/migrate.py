"""Applying ``migrations/`` with dbmate (timestamped plain SQL, recorded in ``schema_migrations``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from coursegen.stack.embedded import tool_path


class MigrationError(RuntimeError):
    pass


def migrations_dir() -> Path:
    """The repository's ``migrations/`` folder (also found from an installed copy via the env var)."""
    configured = os.environ.get("COURSEGEN_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "migrations"
        if candidate.is_dir() and any(candidate.glob("*.sql")):
            return candidate
    raise MigrationError("migrations/ not found; set COURSEGEN_MIGRATIONS_DIR")


def dbmate_url(database_url: str) -> str:
    """dbmate speaks lib/pq: a TCP URL needs sslmode, which the embedded server does not offer."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    scheme = "postgres"
    if parts.hostname and "sslmode" not in query:
        query["sslmode"] = "disable"
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def migrate(database_url: str, *, wait_seconds: int = 30) -> str:
    """Apply every pending migration; idempotent. Returns dbmate's output."""
    result = subprocess.run(
        [
            str(tool_path("dbmate")),
            "--url",
            dbmate_url(database_url),
            "--migrations-dir",
            str(migrations_dir()),
            "--no-dump-schema",
            "--wait",
            "--wait-timeout",
            f"{wait_seconds}s",
            "--migration-lock",
            "--env-file",
            os.devnull,
            "up",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise MigrationError(f"dbmate failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout
