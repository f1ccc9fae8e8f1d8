"""No side effects outside the data dir: ``coursegen demo`` from a checkout inside a private folder.

A checkout under a mode-700 folder (like ``/root``): as root, PostgreSQL runs as
its own system user, which cannot enter that folder. The demo must work anyway,
and no folder outside the data dir may change its mode or owner.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from coursegen.stack.embedded import PG_SYSTEM_USER, EmbeddedPostgres


@pytest.fixture
def private_checkout() -> Iterator[Path]:
    private = Path(tempfile.mkdtemp(prefix="coursegen-private-"))  # mkdtemp makes it 0700
    checkout = private / "checkout"
    checkout.mkdir()
    try:
        yield checkout
    finally:
        EmbeddedPostgres(checkout / ".coursegen" / "postgres").destroy()
        shutil.rmtree(private, ignore_errors=True)


def modes(paths: list[Path]) -> dict[Path, tuple[int, int, int]]:
    found = {}
    for path in paths:
        if path.exists():
            st = path.stat()
            found[path] = (st.st_mode, st.st_uid, st.st_gid)
    return found


def test_demo_from_a_private_folder_changes_nothing_outside_the_data_dir(private_checkout: Path) -> None:
    data_dir = private_checkout / ".coursegen"
    watched = [*reversed(private_checkout.parents), private_checkout, Path("/tmp"), Path("/work"), Path.home()]
    watched += [Path(tempfile.gettempdir()), Path.cwd(), *Path.cwd().parents]
    before = modes(watched)
    assert before[private_checkout.parent][0] & 0o777 == 0o700

    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEGEN_")}
    done = subprocess.run(
        [sys.executable, "-m", "coursegen.cli.main", "demo", "--data-dir", str(data_dir), "--timeout", "240"],
        cwd=private_checkout,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo complete" in done.stdout

    after = modes(watched)
    changed = {
        str(p): (oct(before[p][0]), oct(after[p][0]), before[p][1:], after[p][1:])
        for p in before
        if before[p] != after.get(p)
    }
    assert not changed, f"folders outside the data dir changed mode or owner: {changed}"
    # The servers' secrets are readable by their owner only.
    for secret in (data_dir / "postgres" / "passwords.json", data_dir / "nats" / "passwords.json"):
        assert secret.stat().st_mode & 0o077 == 0, secret
    if os.geteuid() == 0:
        # The cluster is where its own user can reach it: a private folder of that user.
        cluster = EmbeddedPostgres(data_dir / "postgres").base_dir
        assert (data_dir / "postgres" / "cluster-location").read_text().strip() == str(cluster / "data")
        st = cluster.stat()
        assert pwd.getpwuid(st.st_uid).pw_name == PG_SYSTEM_USER and st.st_mode & 0o077 == 0
