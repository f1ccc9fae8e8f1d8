"""Who may do what on the bus: one NATS user per service, and how each one connects.

The table ``USERS`` is the single source of the server's ``authorization``
block. Each service may

- publish only the event subjects it owns (a stage: its next handoffs and
  ``stage.failed``; the tracker: ``job.completed`` and the dead-letter events…),
- pull only from its own durable consumer(s), and ack only their messages
  (``$JS.ACK.<stream>.<consumer>.>``),
- use only the JetStream API subjects that needs: the streams' ``INFO`` and
  ``CREATE`` (create is idempotent; a service creates a missing stream, it can
  never update, purge or delete one), its own consumers' ``CREATE``/``INFO``/
  ``MSG.NEXT``, and for the tracker the other consumers' ``INFO`` (its stall
  check) and ``STREAM.MSG.GET`` (the body of a dead letter),
- receive replies only on its own inbox prefix ``_INBOX_<user>``: with the
  shared ``_INBOX.>`` any service could read the messages pulled by another.

``client`` may publish ``job.requested``, ``job.resume`` and ``job.cancel`` and
subscribe to the job outcomes; ``gateway`` the same plus every event live (its
progress pages). ``admin`` is the operator's user: it alone may update or
delete streams and consumers.

Credentials come from ``COURSEGEN_NATS_USER``/``COURSEGEN_NATS_PASSWORD`` (one
identity, what a container gets), ``COURSEGEN_NATS_CREDS_FILE`` (a mounted
``.creds`` file or nkey seed), or ``COURSEGEN_NATS_PASSWORDS_FILE`` (every
user's password, the embedded stack's 0600 file: each service picks its own).
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from coursegen.shared.settings import Settings
from coursegen.shared.subjects import (
    ADVISORY_STREAM,
    COURSE_DRAFTED,
    COURSE_READY,
    COURSE_SKIPPED,
    JOB_ACCEPTED,
    JOB_CANCEL,
    JOB_COMPLETED,
    JOB_REJECTED,
    JOB_REQUESTED,
    JOB_RESUME,
    REVIEW_MODULE,
    REVIEW_OUTLINE,
    STAGE_FAILED,
    STAGES,
    STREAM,
    durable_name,
    handoff_subject,
)

ADMIN: Final = "admin"
CLIENT: Final = "client"
GATEWAY: Final = "gateway"

CLIENT_PUBLISHES: Final = (JOB_REQUESTED, JOB_RESUME, JOB_CANCEL, REVIEW_OUTLINE, REVIEW_MODULE)
OUTCOMES: Final = (JOB_ACCEPTED, JOB_REJECTED, JOB_COMPLETED, COURSE_READY, COURSE_DRAFTED, COURSE_SKIPPED)
"""What a client may read: whether its job was taken, and how it ended."""

MAX_PAYLOAD_BYTES: Final = 1024 * 1024
"""The server's ``max_payload``; the bus refuses an event well below it (``Settings.max_event_bytes``)."""


@dataclass(frozen=True)
class BusUser:
    """One NATS user and what it may do."""

    name: str
    publishes: tuple[str, ...] = ()
    """Event subjects it publishes."""
    consumers: tuple[tuple[str, str], ...] = ()
    """``(stream, durable)``: the consumers it creates, pulls from and acks."""
    watches: tuple[tuple[str, str], ...] = ()
    """Other consumers whose info it reads."""
    reads_stream: tuple[str, ...] = ()
    """Streams whose messages it may fetch by sequence."""
    subscribes: tuple[str, ...] = ()
    """Core NATS subjects it may subscribe to (live, not replayed)."""
    creates_streams: bool = False
    """Create the streams when they are missing (never update or delete them)."""
    follows: tuple[str, ...] = ()
    """Streams it follows live with an ordered (ephemeral, push) consumer delivered to its own inbox."""
    admin: bool = False

    @property
    def inbox_prefix(self) -> str:
        return inbox_prefix(self.name)


def inbox_prefix(user: str) -> str:
    """The user's own reply subjects: ``_INBOX_<user>``."""
    return f"_INBOX_{user}"


def _stage_publishes(stage: str) -> tuple[str, ...]:
    following = {
        "planner": (handoff_subject("researcher"), COURSE_SKIPPED),
        "researcher": (handoff_subject("content"),),
        "content": (handoff_subject("quality"),),
        "quality": (handoff_subject("content"), handoff_subject("enhancer")),
        "enhancer": (handoff_subject("multimedia"),),
        "multimedia": (handoff_subject("finalizer"),),
        "finalizer": (COURSE_READY, COURSE_DRAFTED),
    }
    return (*following[stage], STAGE_FAILED)


def _service(name: str, publishes: Iterable[str], consumers: Iterable[tuple[str, str]], **extra: Any) -> BusUser:
    return BusUser(name, tuple(publishes), tuple(consumers), creates_streams=True, **extra)


USERS: Final[tuple[BusUser, ...]] = (
    _service(
        "coordinator",
        # Review answers re-enter the pipeline: a re-plan, an approved outline's modules, a reworked module.
        (
            *(handoff_subject(stage) for stage in ("planner", "researcher", "content")),
            JOB_ACCEPTED,
            JOB_REJECTED,
            JOB_COMPLETED,
            STAGE_FAILED,
        ),
        [
            (STREAM, durable_name("coordinator") + suffix)
            for suffix in ("-requests", "-cancel", "-resume", "-review-outline", "-review-module")
        ],
    ),
    *(_service(stage, _stage_publishes(stage), [(STREAM, durable_name(stage))]) for stage in STAGES),
    _service(
        "tracker",
        # Dead letters (stage.failed, job.rejected), job completion, and re-driving stalled runs.
        (STAGE_FAILED, JOB_REJECTED, JOB_COMPLETED, handoff_subject("planner")),
        [(STREAM, durable_name("tracker")), (ADVISORY_STREAM, durable_name("tracker") + "-dead-letters")],
        # Every consumer's info, read-only: the stall check reads the stages' backlog, and the dead-letter
        # path asks which subject a consumer that ran out of deliveries was working on.
        watches=((STREAM, "*"),),
        reads_stream=(STREAM,),
    ),
    # The web app: publishes what a client may, follows every event live (its progress pages).
    BusUser(GATEWAY, CLIENT_PUBLISHES, subscribes=("coursegen.>",), follows=(STREAM,), creates_streams=True),
    BusUser(CLIENT, CLIENT_PUBLISHES, subscribes=OUTCOMES),
    BusUser(ADMIN, admin=True),
)

USER_NAMES: Final = tuple(user.name for user in USERS)


def user(name: str) -> BusUser:
    for candidate in USERS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no NATS user {name!r}; users are: {', '.join(USER_NAMES)}")


def permissions(who: BusUser) -> dict[str, Any]:
    """The user's ``permissions`` block: ``publish`` and ``subscribe`` allow lists (all else denied)."""
    if who.admin:
        return {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    api = "$JS.API"
    publish = list(who.publishes)
    if who.creates_streams:
        # Every service makes sure both streams exist before binding (``bus.ensure_streams``).
        for stream in (STREAM, ADVISORY_STREAM):
            publish += [f"{api}.STREAM.INFO.{stream}", f"{api}.STREAM.CREATE.{stream}"]
    for stream, durable in who.consumers:
        publish += [
            f"{api}.CONSUMER.INFO.{stream}.{durable}",
            f"{api}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"{api}.CONSUMER.CREATE.{stream}.{durable}",
            f"{api}.CONSUMER.CREATE.{stream}.{durable}.>",
            f"{api}.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    for stream, durable in who.watches:
        publish.append(f"{api}.CONSUMER.INFO.{stream}.{durable}")
    for stream in who.reads_stream:
        publish += [f"{api}.STREAM.MSG.GET.{stream}", f"{api}.DIRECT.GET.{stream}"]
    for stream in who.follows:
        # An ordered consumer is created (and re-created after a gap) without a name, and answers
        # the server's flow control. Only that: no named consumer (a stage's), no info, no delete;
        # the server drops an ephemeral consumer once nobody listens.
        publish += [
            f"{api}.STREAM.INFO.{stream}",
            f"{api}.CONSUMER.CREATE.{stream}",
            f"$JS.FC.{stream}.>",
        ]
    subscribe = [f"{who.inbox_prefix}.>", *who.subscribes]
    return {"publish": {"allow": publish}, "subscribe": {"allow": subscribe}}


# --- the server's configuration ----------------------------------------------------------------


def _quote(value: str) -> str:
    # NATS config strings take JSON's quoting; ``$NAME`` unquoted is a variable reference.
    return value if value.startswith("$") else json.dumps(value)


def _list(values: Iterable[str], indent: str) -> list[str]:
    """A config array, one value per line (readable, and within a YAML linter's line length)."""
    items = [json.dumps(v) for v in values]
    return [
        "[",
        *(f"{indent}  {item}," for item in items[:-1]),
        *(f"{indent}  {item}" for item in items[-1:]),
        f"{indent}]",
    ]


def authorization_block(
    passwords: Mapping[str, str] | None = None, *, nkeys: Mapping[str, str] | None = None, indent: str = ""
) -> str:
    """The server's ``authorization { users = [...] }`` block for every user of ``USERS``.

    A user with an nkey (public key ``U…``) in ``nkeys`` authenticates with it;
    every other with its password from ``passwords``. Without ``passwords`` the
    block refers to ``$COURSEGEN_NATS_PASSWORD_<USER>`` variables, which
    nats-server reads from its environment (a Kubernetes secret, a compose env file).
    """
    lines = [f"{indent}authorization {{", f"{indent}  users = ["]
    for who in USERS:
        perms = permissions(who)
        if nkeys and who.name in nkeys:
            ident = f"nkey: {json.dumps(nkeys[who.name])}"
        else:
            password = (passwords or {}).get(who.name) or password_variable(who.name)
            ident = f"user: {json.dumps(who.name)}, password: {_quote(password)}"
        lines.append(f"{indent}    {{ # {who.name}")
        lines.append(f"{indent}      {ident}")
        lines.append(f"{indent}      permissions: {{")
        for direction in ("publish", "subscribe"):
            first, *rest = _list(perms[direction]["allow"], f"{indent}        ")
            lines.append(f"{indent}        {direction}: {{ allow: {first}")
            lines.extend(rest[:-1])
            lines.append(f"{rest[-1]} }}")
        lines.append(f"{indent}      }}")
        lines.append(f"{indent}    }}")
    lines.append(f"{indent}  ]")
    lines.append(f"{indent}}}")
    return "\n".join(lines) + "\n"


def password_variable(name: str) -> str:
    """``$COURSEGEN_NATS_PASSWORD_<USER>``: the environment variable the generated config reads."""
    return "$COURSEGEN_NATS_PASSWORD_" + name.upper().replace("-", "_")


def tls_block(cert: Path, key: Path, ca: Path | None = None, *, verify: bool = False, indent: str = "") -> str:
    """The server's ``tls`` block; ``verify`` also asks clients for a certificate signed by ``ca``."""
    lines = [
        f"{indent}tls {{",
        f"{indent}  cert_file: {json.dumps(str(cert))}",
        f"{indent}  key_file: {json.dumps(str(key))}",
    ]
    if ca is not None:
        lines.append(f"{indent}  ca_file: {json.dumps(str(ca))}")
    if verify:
        lines.append(f"{indent}  verify: true")
    lines.append(f"{indent}}}")
    return "\n".join(lines) + "\n"


def generate_passwords() -> dict[str, str]:
    """A fresh random password for every user."""
    return {name: secrets.token_urlsafe(24) for name in USER_NAMES}


def write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600 from its creation, never readable in between)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def load_or_create_passwords(path: Path) -> dict[str, str]:
    """The passwords file of an embedded server: kept between runs, completed with new users."""
    passwords: dict[str, str] = {}
    if path.exists():
        passwords = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
    missing = {k: v for k, v in generate_passwords().items() if k not in passwords}
    if missing or not path.exists():
        passwords.update(missing)
        write_secret(path, json.dumps(passwords, indent=2) + "\n")
    return passwords


# --- connecting ----------------------------------------------------------------------------------


def identity(settings: Settings, default_user: str) -> tuple[str | None, dict[str, Any]]:
    """Who connects (the user's name, or None when anonymous) and the credential options for nats-py."""
    if settings.nats_creds_file is not None:
        path = settings.nats_creds_file
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"COURSEGEN_NATS_CREDS_FILE: cannot read {path}: {exc}") from exc
        who = settings.nats_user or default_user
        if "BEGIN NATS USER JWT" in text:
            return who, {"user_credentials": str(path)}
        return who, {"nkeys_seed": str(path)}
    if settings.nats_user:
        password = settings.nats_password.get_secret_value() if settings.nats_password else ""
        return settings.nats_user, {"user": settings.nats_user, "password": password}
    if settings.nats_passwords_file is not None:
        try:
            passwords = json.loads(settings.nats_passwords_file.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"COURSEGEN_NATS_PASSWORDS_FILE: cannot read {settings.nats_passwords_file}: {exc}"
            ) from exc
        if default_user in passwords:
            return default_user, {"user": default_user, "password": str(passwords[default_user])}
    return None, {}


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context when ``COURSEGEN_NATS_TLS_CA`` (and optionally a client cert and key) is set."""
    if settings.nats_tls_ca is None and settings.nats_tls_cert is None:
        return None
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(settings.nats_tls_ca) if settings.nats_tls_ca else None
    )
    if settings.nats_tls_cert is not None:
        context.load_cert_chain(
            str(settings.nats_tls_cert), str(settings.nats_tls_key) if settings.nats_tls_key else None
        )
    return context


def strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def connect_options(settings: Settings, default_user: str) -> dict[str, Any]:
    """``servers`` and keyword arguments for ``nats.connect`` / ``NatsBroker`` as ``default_user``.

    Explicit credentials win over any in the URL (the URL's are dropped); a
    named user replies on its own inbox prefix, the only one it may read.
    """
    if not settings.nats_url:
        raise RuntimeError("COURSEGEN_NATS_URL is not set")
    servers = [url.strip() for url in settings.nats_url.split(",") if url.strip()]
    who, options = identity(settings, default_user)
    if options:
        servers = [strip_userinfo(url) for url in servers]
    if who is not None:
        options["inbox_prefix"] = inbox_prefix(who)
    tls = tls_context(settings)
    if tls is not None:
        options["tls"] = tls
    return {"servers": servers, **options}
