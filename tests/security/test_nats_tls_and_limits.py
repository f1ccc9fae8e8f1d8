"""TLS to NATS with a certificate the test makes; the event size cap; the generated deploy config."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
import trustme
from typer.testing import CliRunner

from coursegen.cli.main import app
from coursegen.shared.bus import Bus, ensure_streams
from coursegen.shared.errors import EventTooLarge, PermanentError
from coursegen.shared.events import JobRequested
from coursegen.shared.nats_auth import MAX_PAYLOAD_BYTES, connect_options
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import JOB_REQUESTED, STREAM
from coursegen.stack.embedded import EmbeddedNats, NatsTls
from tests.deploy.nats_config import AUTHORIZATION


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedNats, Path]]:
    root = tmp_path_factory.mktemp("nats-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = root / "ca.pem", root / "server.pem", root / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    server = EmbeddedNats(root / "nats", secure=True, tls=NatsTls(cert_file, key_file, ca_file)).start()
    yield server, ca_file
    server.stop()


def tls_settings(server: EmbeddedNats, ca_file: Path | None) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, nats_url=server.url, nats_passwords_file=server.passwords_file, nats_tls_ca=ca_file
    )


async def test_services_connect_over_tls_with_the_ca(tls_server: tuple[EmbeddedNats, Path]) -> None:
    server, ca_file = tls_server
    settings = tls_settings(server, ca_file)
    assert server.url.startswith("tls://")
    await ensure_streams(settings, "planner", give_up_after=10)
    nc = await nats.connect(**connect_options(settings, "client"))
    try:
        assert nc.is_connected and nc._current_server is not None
        ack = await nc.jetstream().publish(
            JOB_REQUESTED, b"{}", stream=STREAM, headers={"Nats-Msg-Id": uuid.uuid4().hex}
        )
        assert ack.stream == STREAM
    finally:
        await nc.close()


async def test_a_server_certificate_not_signed_by_the_ca_is_refused(tls_server: tuple[EmbeddedNats, Path]) -> None:
    server, _ = tls_server
    stranger = Path(str(server.store_dir)) / "stranger-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    options = connect_options(tls_settings(server, stranger), "client")
    with pytest.raises((ssl.SSLError, nats.errors.NoServersError)):
        await nats.connect(**options, allow_reconnect=False, connect_timeout=3)


async def test_the_server_caps_the_payload(settings: Settings) -> None:
    assert settings.nats_url
    nc = await nats.connect(settings.nats_url)
    try:
        assert nc.max_payload == MAX_PAYLOAD_BYTES
    finally:
        await nc.close()


async def test_an_event_over_the_cap_is_refused_before_it_is_sent(settings: Settings) -> None:
    sent: list[bytes] = []

    class Broker:
        async def publish(self, body: bytes, *args: object, **kwargs: object) -> None:
            sent.append(body)

    bus = Bus(Broker(), max_event_bytes=4096)  # type: ignore[arg-type]
    big = JobRequested(job_id=uuid.uuid4(), company_id=uuid.uuid4(), employee_ids=[uuid.uuid4() for _ in range(200)])
    with pytest.raises(EventTooLarge, match=r"JobRequested for coursegen.job.requested is \d+ bytes, over the cap"):
        await bus.publish(JOB_REQUESTED, big)
    assert sent == []
    assert issubclass(EventTooLarge, PermanentError), "retrying would never help: it is terminated and recorded"
    small = JobRequested(job_id=uuid.uuid4(), company_id=uuid.uuid4(), employee_ids=[uuid.uuid4()])
    await bus.publish(JOB_REQUESTED, small)
    assert len(sent) == 1


def test_the_deploy_authorization_file_is_the_generated_one() -> None:
    result = CliRunner().invoke(app, ["nats-config"])
    assert result.exit_code == 0, result.output
    generated = result.output.split("\n", 2)[2]  # after the two comment lines
    kept = AUTHORIZATION.read_text().split("\n", 3)[3]
    assert kept == generated, f"{AUTHORIZATION} is stale: regenerate it with coursegen nats-config"
    assert "$COURSEGEN_NATS_PASSWORD_PLANNER" in generated and "trust" not in generated
