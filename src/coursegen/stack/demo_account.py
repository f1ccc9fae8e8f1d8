"""The demo company's sign-in for the web app: created once, its password kept in the data dir (mode 0600)."""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

from coursegen.gateway.security import hash_password
from coursegen.shared.store import Database, connect
from coursegen.shared.store.users import create_user, user_by_email

DEMO_EMAIL = "demo@northwind.example"
CREDENTIALS_FILE = "demo-sign-in"


async def ensure_demo_user(database_url: str, company_id: uuid.UUID, data_dir: Path) -> tuple[str, str | None]:
    """(email, password) of the demo user; the password is None when it was created elsewhere and not kept here."""
    path = data_dir / CREDENTIALS_FILE
    db = Database(await connect(database_url, min_size=1, max_size=1))
    try:
        async with db.transaction(company_id) as conn:
            existing = await user_by_email(conn, DEMO_EMAIL)
            if existing is not None:
                return DEMO_EMAIL, path.read_text().strip() if path.exists() else None
            password = secrets.token_urlsafe(12)
            await create_user(
                conn, company_id=company_id, email=DEMO_EMAIL, name="Demo user", password_hash=hash_password(password)
            )
    finally:
        await db.close()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password)
    return DEMO_EMAIL, password
