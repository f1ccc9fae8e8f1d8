"""The deployment files agree with the code: every service has its container, every variable a setting.

Docker is not needed: the files are read as data. What they would run is
checked against the services, settings and migrations the code has.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from coursegen.shared.nats_auth import USER_NAMES, password_variable
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import SERVICES
from tests.deploy.nats_config import AUTHORIZATION, check_nats_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return data


def expand(value: str) -> str:
    """Compose's ``${NAME:-default}`` with nothing set in the environment: the default; ``${NAME:?…}``: "secret"."""
    value = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "secret", value)
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_every_service_runs_in_its_own_container(compose: dict[str, Any]) -> None:
    commands = {name: spec.get("command") for name, spec in compose["services"].items()}
    for service in SERVICES:
        assert commands.get(service) == ["service", service], service
    assert commands["migrate"] == ["migrate"]
    # Services start once the schema is there.
    assert compose["services"]["tracker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_environment_is_made_of_real_settings(compose: dict[str, Any]) -> None:
    env = {key: expand(str(value)) for key, value in compose["x-coursegen"]["environment"].items()}
    known = {f"COURSEGEN_{name.upper()}" for name in Settings.model_fields}
    unknown = {key for key in env if key.startswith("COURSEGEN_")} - known
    assert not unknown, f"compose sets variables no setting reads: {unknown}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, **{k.removeprefix("COURSEGEN_").lower(): v for k, v in env.items() if k in known}
    )
    nats_nodes = [name for name in compose["services"] if name.startswith("nats-")]
    assert settings.nats_url and len(settings.nats_url.split(",")) == len(nats_nodes) == 3
    assert settings.stream_replicas == len(nats_nodes), "the stream is replicated on every node"
    assert settings.model == "offline" and settings.metrics_host == "0.0.0.0"


def test_prometheus_scrapes_every_service_on_the_metrics_port(compose: dict[str, Any]) -> None:
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"][0]["dns_sd_configs"][0]
    assert scrape["names"] == list(SERVICES)
    assert str(scrape["port"]) == compose["x-coursegen"]["environment"]["COURSEGEN_METRICS_PORT"]


def test_every_nats_node_persists_and_syncs_every_write() -> None:
    conf = (DEPLOY / "nats" / "nats.conf").read_text()
    assert re.search(r"^\s*sync_interval:\s*always", conf, re.MULTILINE)
    assert "store_dir: /data/jetstream" in conf


def test_the_image_ships_the_migrations_it_is_told_about() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY migrations /app/migrations" in dockerfile
    assert "COURSEGEN_MIGRATIONS_DIR=/app/migrations" in dockerfile
    assert 'ENTRYPOINT ["coursegen"]' in dockerfile
    assert "uv sync --frozen" in dockerfile, "the image installs exactly what uv.lock pins"


def test_no_database_or_nats_port_is_published(compose: dict[str, Any]) -> None:
    for name, spec in compose["services"].items():
        for port in spec.get("ports", []):
            assert not any(p in str(port) for p in ("5432", "4222", "6222", "8222")), (name, port)
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
    debug = yaml.safe_load((DEPLOY / "docker-compose.debug.yml").read_text())
    assert all(str(p).startswith("127.0.0.1:") for spec in debug["services"].values() for p in spec["ports"])


def test_no_password_has_a_default_and_the_example_lists_each_one() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert not re.search(r"\$\{[A-Z_]*PASSWORD[A-Z_]*:-", text), "a password must never fall back to a default"
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = {line.split("=", 1)[0] for line in (DEPLOY / ".env.example").read_text().splitlines() if "=" in line}
    assert required and required <= example, required - example
    # The example holds names, never values.
    assert all(line.endswith("=") for line in (DEPLOY / ".env.example").read_text().splitlines() if "PASSWORD=" in line)


def test_each_service_signs_in_as_itself_and_only_migrate_is_the_owner(compose: dict[str, Any]) -> None:
    nats_env = compose["x-nats"]["environment"]
    for service in (*SERVICES, "gateway"):
        env = compose["services"][service]["environment"]
        assert env["COURSEGEN_NATS_USER"] == service
        # The service's password is the one nats-server checks that user against.
        assert f"NATS_PASSWORD_{service.upper()}:" in env["COURSEGEN_NATS_PASSWORD"]
        assert f"NATS_PASSWORD_{service.upper()}:" in nats_env[password_variable(service).removeprefix("$")]
        role = "coursegen_gateway" if service == "gateway" else "coursegen_app"
        assert env["COURSEGEN_DATABASE_URL"].startswith(f"postgresql://{role}:"), service
        assert "COURSEGEN_MIGRATE_DATABASE_URL" not in env
    # PostgreSQL creates the gateway's role with the password the gateway signs in with.
    postgres = compose["services"]["postgres"]["environment"]
    assert "POSTGRES_GATEWAY_PASSWORD:" in postgres["COURSEGEN_GATEWAY_PASSWORD"]
    assert "POSTGRES_GATEWAY_PASSWORD:" in compose["services"]["gateway"]["environment"]["COURSEGEN_DATABASE_URL"]
    migrate = compose["services"]["migrate"]["environment"]
    assert set(migrate) == {"COURSEGEN_MIGRATE_DATABASE_URL"}
    assert migrate["COURSEGEN_MIGRATE_DATABASE_URL"].startswith("postgresql://coursegen:")


def test_services_report_their_health_on_the_health_port(compose: dict[str, Any]) -> None:
    base = compose["x-coursegen"]
    check = " ".join(base["healthcheck"]["test"])
    assert f"127.0.0.1:{base['environment']['COURSEGEN_HEALTH_PORT']}/healthz" in check


def test_the_gateway_serves_the_web_app_on_this_machine_only(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    assert gateway["command"] == ["service", "gateway"]
    assert gateway["ports"] == ["127.0.0.1:8000:8000"]
    env = gateway["environment"]
    assert env["COURSEGEN_GATEWAY_HOST"] == "0.0.0.0", "inside its container: reachable through the published port"
    assert "GATEWAY_SECRET_KEY:?" in env["COURSEGEN_GATEWAY_SECRET_KEY"], "one key, never generated per replica"
    assert "127.0.0.1:8000/healthz" in " ".join(gateway["healthcheck"]["test"])


def test_the_nats_nodes_run_the_generated_users_with_their_permissions(compose: dict[str, Any], tmp_path: Path) -> None:
    """Each node mounts authorization.conf beside nats.conf, which includes it; nats-server accepts the pair
    with exactly the passwords compose gives it, and the file holds every user's permissions."""
    for node in ("nats-1", "nats-2", "nats-3"):
        volumes = compose["services"][node]["volumes"]
        mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in volumes if v.startswith("."))
        assert mounts == {
            "./nats/nats.conf": "/etc/nats/nats.conf",
            "./k8s/base/nats/authorization.conf": "/etc/nats/authorization.conf",
        }
    assert (DEPLOY / "k8s" / "base" / "nats" / "authorization.conf").samefile(AUTHORIZATION)
    nats_env = {name: expand(str(value)) for name, value in compose["x-nats"]["environment"].items()}
    assert set(nats_env) == {password_variable(u).removeprefix("$") for u in USER_NAMES}
    (tmp_path / "nats.conf").write_text((DEPLOY / "nats" / "nats.conf").read_text())
    (tmp_path / "authorization.conf").write_text(AUTHORIZATION.read_text())
    assert check_nats_config(tmp_path / "nats.conf", nats_env | {"NATS_SERVER_NAME": "nats-1"}) == ""
    assert "include ./authorization.conf" in (DEPLOY / "nats" / "nats.conf").read_text()
    assert "permissions" in AUTHORIZATION.read_text()
