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


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def dbmate_url(database_url: str) -> str:
    """The URL as dbmate (lib/pq) takes it.

    lib/pq requires TLS unless told otherwise. Only a loopback or Unix-socket
    server without an ``sslmode`` of its own (the embedded one, which has no
    TLS) gets ``sslmode=disable``; any other host keeps the secure default.
    """
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    host = parts.hostname or query.get("host", "")
    local = not host or host in LOCAL_HOSTS or host.startswith("127.") or host.startswith("/")
    if local and "sslmode" not in query:
        query["sslmode"] = "disable"
    return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(query), parts.fragment))


def migrate(database_url: str, *, wait_seconds: int = 30) -> str:
    """Apply every pending migration; idempotent. Returns dbmate's output."""
    # The URL (and its password) goes through the environment: argv is visible to every local user.
    result = subprocess.run(
        [
            str(tool_path("dbmate")),
            "--env",
            "COURSEGEN_DBMATE_URL",
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
        env={**os.environ, "COURSEGEN_DBMATE_URL": dbmate_url(database_url)},
    )
    if result.returncode != 0:
        raise MigrationError(f"dbmate failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout
