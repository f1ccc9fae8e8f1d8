"""nats-server's own check of a deployed configuration (``nats-server -t``), with the environment it would have."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from coursegen.stack.embedded import tool_path

AUTHORIZATION = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "nats" / "authorization.conf"
"""The users and permissions both deployments include (``coursegen nats-config``)."""


def check_nats_config(conf: Path, env: Mapping[str, str]) -> str:
    """ "" when nats-server accepts ``conf`` (its includes beside it) with only ``env`` set; else what it said."""
    result = subprocess.run(
        [str(tool_path("nats-server")), "-t", "-c", conf.name],
        cwd=conf.parent,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return "" if result.returncode == 0 else (result.stderr + result.stdout).strip()
