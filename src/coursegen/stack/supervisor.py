"""The local stack: embedded servers when no URLs are given, migrations, one process per service replica.

``Stack`` is what ``coursegen demo`` and ``coursegen up`` run, and what tests and
benchmarks use to kill and restart a service process. Every service runs as
``python -m coursegen.cli.main service NAME``: the same command a container
runs, so the local stack exercises the production entry point.

Readiness: the supervisor gives each process a ready file (``COURSEGEN_READY_FILE``)
that ``coursegen service`` writes once FastStream has started its broker,
that is once the service's durable consumers exist and are being pulled. A
file is independent of log format and level, and it is per process, so a
restarted replica is waited for on its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

import psutil

from coursegen.shared.settings import Settings
from coursegen.shared.subjects import SERVICES
from coursegen.stack.embedded import EmbeddedNats, EmbeddedPostgres
from coursegen.stack.migrate import migrate

log = logging.getLogger("coursegen.stack")

READY_FILE_ENV = "COURSEGEN_READY_FILE"
GATEWAY = "gateway"
"""The web app and HTTP API: a process of the stack, though not a consumer of the bus's work."""
STOP_GRACE_SECONDS = 15.0


class StackError(RuntimeError):
    """The stack could not start, or a service did not come up; the message says which and why."""


@dataclass
class ServiceProcess:
    """One running replica of one service."""

    name: str
    index: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    ready_file: Path
    log_offset: int
    """Where this process's output starts in its (appended) log file."""
    stopping: bool = False
    """Set when the supervisor ends it, so its exit is not reported as a crash."""
    metrics_port: int | None = None
    """Where this replica serves ``/metrics`` (``COURSEGEN_METRICS_PORT`` given to it); None when off."""

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def label(self) -> str:
        return f"{self.name}-{self.index}"

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    @property
    def ready(self) -> bool:
        return self.ready_file.exists()

    def crashed(self) -> bool:
        """Exited without the supervisor asking it to."""
        return not self.stopping and self.popen.poll() is not None

    def output(self) -> str:
        """What this process wrote (not earlier runs' lines in the same file)."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def error_messages(self, limit: int = 3) -> list[str]:
        """The last ERROR/CRITICAL messages this process logged (JSON lines as ``coursegen service`` writes them)."""
        found: list[str] = []
        for line in self.output().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict):
                if entry.get("level") in ("ERROR", "CRITICAL"):
                    found.append(str(entry.get("message")))
            elif " ERROR " in line or " CRITICAL " in line:
                found.append(line.strip())
        return found[-limit:]


@dataclass
class Stack:
    """Embedded servers (where no URL is configured), migrations and service processes.

    Use it as a context manager: leaving it, also by an exception or Ctrl-C,
    stops the services (SIGTERM, then SIGKILL after 15 s) and the embedded servers.
    """

    settings: Settings = field(default_factory=Settings)
    data_dir: Path | None = None
    """Overrides ``settings.data_dir``."""

    nats: EmbeddedNats | None = field(default=None, init=False)
    postgres: EmbeddedPostgres | None = field(default=None, init=False)
    processes: list[ServiceProcess] = field(default_factory=list, init=False)
    migrations_output: str = field(default="", init=False)
    _nats_url: str | None = field(default=None, init=False)
    _database_url: str | None = field(default=None, init=False)
    _lock: IO[str] | None = field(default=None, init=False)
    _hurry: bool = field(default=False, init=False)
    _metrics_ports: dict[str, int] = field(default_factory=dict, init=False)
    _gateway_port: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.data_dir = (self.data_dir or self.settings.data_dir).resolve()

    @property
    def root(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def nats_url(self) -> str:
        if self._nats_url is None:
            raise StackError("the stack is not started")
        return self._nats_url

    @property
    def database_url(self) -> str:
        if self._database_url is None:
            raise StackError("the stack is not started")
        return self._database_url

    @property
    def embedded(self) -> bool:
        return self.nats is not None or self.postgres is not None

    # --- servers -------------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> Stack:
        """Start what is not configured, and migrate. On failure, whatever was started is stopped."""
        if self._database_url is not None:
            return self  # started already (``start()`` then ``with stack:``)
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            ports = self._remembered_ports()
            if self.settings.nats_url:
                self._nats_url = self.settings.nats_url
            else:
                store = self.root / "nats"
                _stop_leftover_nats(store)
                self.nats = EmbeddedNats(
                    store,
                    port=_free_or_new(ports.get("nats")),
                    monitor_port=_free_or_new(ports.get("nats_monitor")),
                    secure=True,
                )
                self.nats.start()
                # What the stack hands out is the client's: it may submit and control jobs, nothing more.
                self._nats_url = self.nats.url_as("client")
            if self.settings.database_url:
                self._database_url = self.settings.database_url
            else:
                self.postgres = EmbeddedPostgres(self.root / "postgres")
                # A leftover server would hold last run's port and make it look taken.
                self.postgres.stop()
                self.postgres.port = _free_or_new(ports.get("postgres"))
                self.postgres.start()
                self._database_url = self.postgres.url
            self._remember_ports()
            # Migrations run as the owner role; services get the app role's URL.
            if self.postgres is not None:
                owner_url = self.postgres.owner_url
            else:
                owner_url = self.settings.migrate_database_url or self.database_url
            self.migrations_output = migrate(owner_url)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every service process, then the embedded servers. Safe to call more than once.

        Ctrl-C or SIGTERM during the stop does not abort it (that would leave
        servers running); it only cuts the services' grace period short.
        """
        with self._signals_hurry():
            try:
                self.stop_services()
            finally:
                try:
                    if self.nats is not None:
                        self.nats.stop()
                finally:
                    try:
                        if self.postgres is not None:
                            self.postgres.stop()
                    finally:
                        self._release_lock()

    # --- services ------------------------------------------------------------------------------

    def start_services(
        self, replicas: Mapping[str, int] | None = None, *, gateway_port: int | None = None
    ) -> list[ServiceProcess]:
        """Start every service, ``replicas[name]`` processes of it (default 1; 0 leaves it out); and the
        gateway (the web app and API) on ``gateway_port`` when one is given."""
        counts = dict.fromkeys(SERVICES, 1)
        for name, count in (replicas or {}).items():
            if name not in counts:
                raise ValueError(f"unknown service {name!r}; services are: {', '.join(SERVICES)}")
            if count < 0:
                raise ValueError(f"replicas of {name} must be 0 or more, not {count}")
            counts[name] = count
        started = []
        for name, count in counts.items():
            for index in range(count):
                started.append(self._spawn(name, index))
        if gateway_port is not None:
            self._gateway_port = gateway_port
            started.append(self._spawn(GATEWAY, 0))
        return started

    def process(self, name: str, index: int = 0) -> ServiceProcess:
        for proc in self.processes:
            if proc.name == name and proc.index == index:
                return proc
        raise KeyError(f"no process {name}-{index}")

    def kill(self, name: str, index: int = 0) -> None:
        """SIGKILL one replica, as a crash would, and wait until it is gone."""
        proc = self.process(name, index)
        proc.stopping = True
        if proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.wait()

    def restart(self, name: str, index: int = 0) -> ServiceProcess:
        """Start the replica again (stopping it first if it still runs); call ``wait_ready`` after."""
        old = self.process(name, index)
        self._terminate([old])
        self.processes.remove(old)
        return self._spawn(name, index)

    def crashed(self) -> list[ServiceProcess]:
        """The processes that exited without being asked to."""
        return [p for p in self.processes if p.crashed()]

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every process has started consuming; fail at once if one exits."""
        deadline = time.monotonic() + timeout
        while True:
            dead = self.crashed()
            if dead:
                raise StackError(_describe_dead(dead))
            waiting = [p for p in self.processes if not p.ready]
            if not waiting:
                return
            if time.monotonic() > deadline:
                details = "\n\n".join(f"--- {p.log_path} ---\n{p.log_tail(15)}" for p in waiting)
                names = ", ".join(p.label for p in waiting)
                raise StackError(f"not up after {timeout:.0f} s: {names}\n\n{details}")
            time.sleep(0.1)

    def stop_services(self) -> None:
        self._terminate(self.processes)

    def _nats_credentials(self, name: str) -> dict[str, str]:
        """The service's own NATS user and password, when the stack knows every user's."""
        if self.nats is not None and self.nats.secure:
            passwords = self.nats.passwords()
        elif self.settings.nats_passwords_file is not None:
            passwords = json.loads(self.settings.nats_passwords_file.read_text())
        else:
            return {}
        if name not in passwords:
            return {}
        # Only its own: a service process never sees the other users' passwords.
        return {"COURSEGEN_NATS_USER": name, "COURSEGEN_NATS_PASSWORD": passwords[name]}

    def _spawn(self, name: str, index: int) -> ServiceProcess:
        log_path = self.logs_dir / f"{name}-{index}.log"
        ready_file = self.root / "run" / f"{name}-{index}.ready"
        ready_file.parent.mkdir(parents=True, exist_ok=True)
        ready_file.unlink(missing_ok=True)
        metrics_port = self._metrics_port_for(f"{name}-{index}")
        env = {
            **os.environ,
            **self._nats_credentials(name),
            "COURSEGEN_NATS_URL": self.nats_url,
            "COURSEGEN_DATABASE_URL": self.database_url,
            "COURSEGEN_DATA_DIR": str(self.root),
            "OTEL_SERVICE_NAME": f"coursegen-{name}",
            # Replicas on one host cannot share a port: each gets its own (0 = no metrics endpoint).
            "COURSEGEN_METRICS_PORT": str(metrics_port or 0),
            READY_FILE_ENV: str(ready_file),
            "PYTHONUNBUFFERED": "1",
        }
        if "COURSEGEN_NATS_USER" in env:
            env.pop("COURSEGEN_NATS_PASSWORDS_FILE", None)
        # The gateway signs in to PostgreSQL as its own role (row-level security per company), and
        # only as that one; the pipeline's services never see that role's password.
        env.pop("COURSEGEN_GATEWAY_DATABASE_URL", None)
        if name == GATEWAY:
            gateway_url = self.postgres.gateway_url if self.postgres is not None else self.settings.gateway_database_url
            if gateway_url:
                env["COURSEGEN_GATEWAY_DATABASE_URL"] = env["COURSEGEN_DATABASE_URL"] = gateway_url
        if name == GATEWAY and self._gateway_port is not None:
            env["COURSEGEN_GATEWAY_PORT"] = str(self._gateway_port)
        # Appending keeps a crashed replica's last words next to its successor's.
        with log_path.open("ab") as log_file:
            offset = log_file.tell()
            popen = subprocess.Popen(
                [sys.executable, "-m", "coursegen.cli.main", "service", name],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Its own session: the terminal's Ctrl-C reaches only us, and we stop services in order.
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        proc = ServiceProcess(name, index, popen, log_path, ready_file, offset, metrics_port=metrics_port)
        self.processes.append(proc)
        metrics = f", metrics on port {metrics_port}" if metrics_port else ""
        log.info("started %s (pid %d)%s, log %s", proc.label, proc.pid, metrics, log_path)
        return proc

    def _metrics_port_for(self, label: str) -> int | None:
        """A replica's own metrics port, counting up from ``COURSEGEN_METRICS_PORT``; None when that is 0.

        A restarted replica gets its old port back where it is still free, so scrape targets stay put.
        """
        base = self.settings.metrics_port
        if not base:
            return None
        in_use = {port for other, port in self._metrics_ports.items() if other != label}
        previous = self._metrics_ports.get(label)
        candidates: list[int] = [*([previous] if previous else []), *range(base, min(base + 1000, 65536))]
        for port in candidates:
            if port not in in_use and _free_or_new(port) == port:
                self._metrics_ports[label] = port
                return port
        raise StackError(f"no free port for the metrics of {label} from {base} on")

    def _terminate(self, procs: list[ServiceProcess]) -> None:
        running = [p for p in procs if p.popen.poll() is None]
        for proc in procs:
            proc.stopping = True
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while running and time.monotonic() < deadline and not self._hurry:
            running = [p for p in running if p.popen.poll() is None]
            time.sleep(0.05)
        for proc in running:
            if proc.popen.poll() is None:
                log.warning("%s did not stop in time; killing it", proc.label)
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.kill()
        for proc in procs:
            proc.popen.wait()

    # --- bookkeeping ---------------------------------------------------------------------------

    def _take_lock(self) -> None:
        # Two stacks on one data dir would stop each other's PostgreSQL (it is "leftover" to the other).
        if self._lock is not None:
            return
        lock = (self.root / "stack.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            lock.close()
            raise StackError(f"another coursegen stack (pid {holder}) is using {self.root}") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _remembered_ports(self) -> dict[str, int]:
        # The same ports as last time where free, so URLs printed by an earlier run stay valid.
        try:
            data = json.loads((self.root / "ports.json").read_text())
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, int)} if isinstance(data, dict) else {}

    def _remember_ports(self) -> None:
        ports = self._remembered_ports()
        if self.nats is not None:
            ports.update(nats=self.nats.port, nats_monitor=self.nats.monitor_port)
        if self.postgres is not None:
            ports.update(postgres=self.postgres.port)
        (self.root / "ports.json").write_text(json.dumps(ports))

    @contextlib.contextmanager
    def _signals_hurry(self) -> Iterator[None]:
        if not _in_main_thread():
            yield
            return

        def hurry(signum: int, frame: FrameType | None) -> None:
            self._hurry = True

        previous = {sig: signal.signal(sig, hurry) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._hurry = False


def _describe_dead(dead: list[ServiceProcess]) -> str:
    parts = [f"{p.label} exited with code {p.returncode}; last lines of {p.log_path}:\n{p.log_tail()}" for p in dead]
    return "\n\n".join(parts)


def _free_or_new(port: int | None) -> int:
    """``port`` if nothing listens on it, else 0 (the server picks a free one)."""
    if not port:
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the servers do: connections of the last run in TIME_WAIT must not make the port look taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def _stop_leftover_nats(store_dir: Path) -> None:
    """A nats-server left by a killed run would hold the JetStream store; stop it."""
    marker = str(store_dir)
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if "nats-server" in (proc.info["name"] or "") and marker in cmdline:
                log.warning("stopping a leftover nats-server (pid %d) on %s", proc.pid, store_dir)
                proc.terminate()
                try:
                    proc.wait(10)
                except psutil.TimeoutExpired:
                    proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when we die, even by SIGKILL (Linux).

    Services then never outlive a killed ``coursegen up``. The kernel ties the
    signal to the spawning *thread*, so it is only set when spawning from the
    main thread (a worker thread may end long before the stack does).
    """
    if sys.platform != "linux" or not _in_main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def set_signal() -> None:
        # Runs in the child between fork and exec: no imports, no allocation-heavy work.
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return set_signal


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def interrupt_on_stop_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise KeyboardInterrupt, so ``finally`` blocks (and ``Stack.__exit__``) run on both.

    SIGINT is set explicitly because a shell starts background jobs with it
    ignored, and a stack started from a script must still stop on it.
    """
    if not _in_main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        # Only the first signal interrupts. One stop often arrives twice (a terminal's Ctrl-C
        # reaches `uv run` and its child, and uv passes it on; so does systemd's SIGTERM to the
        # group): a second KeyboardInterrupt would break into the clean-up the first one started
        # and leave the embedded servers running. ``Stack.stop`` handles later signals itself.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
