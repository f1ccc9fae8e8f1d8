"""The gateway's own settings, from ``COURSEGEN_GATEWAY_*`` variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE = "gateway-secret"


class GatewaySettings(BaseSettings):
    """Each field is ``COURSEGEN_GATEWAY_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="COURSEGEN_GATEWAY_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    """Address the web app listens on."""
    port: int = Field(default=8000, ge=0, le=65535)
    """Port of the web app (0: any free port)."""
    secret_key: str | None = None
    """Key that signs nothing secret-critical today but keys CSRF tokens; unset: a generated key kept in
    ``<data dir>/gateway-secret`` (mode 0600)."""
    cookie_secure: bool = False
    """Send the session cookie only over HTTPS. Set it behind TLS; off for http://localhost."""
    session_hours: float = 12.0
    """How long a browser session lasts."""
    max_upload_bytes: int = 10 * 1024 * 1024
    """Largest upload (a CSV, a document)."""
    max_csv_rows: int = 5000
    """Most rows of one CSV import."""
    rate_per_second: float = 50.0
    """Sustained requests per second per caller (user, API key or address)."""
    rate_burst: int = 200
    """Requests a caller may make at once above the sustained rate."""
    login_attempts_per_minute: int = 10
    """Failed sign-ins an address may make per minute (a successful one is not counted); then 429."""


def secret_key(settings: GatewaySettings, data_dir: Path) -> str:
    """The configured secret, else one generated once and kept in the data dir, readable by its owner only."""
    if settings.secret_key:
        return settings.secret_key
    path = data_dir / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
