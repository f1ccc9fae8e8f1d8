"""Property-based tests of the HTTP API from its own OpenAPI document (schemathesis): whatever is sent, no
5xx, and every answer matches the documented status codes, content types and schemas."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from coursegen.gateway.app import create_app
from coursegen.gateway.settings import GatewaySettings
from coursegen.shared.settings import Settings
from coursegen.shared.store import connect
from coursegen.stack.embedded import EmbeddedNats
from tests.gateway.conftest import Tenant, free_port, new_tenant
from tests.helpers import pipeline, request_job, wait_for_job

pytestmark = pytest.mark.timeout(600)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "gateway"


class ThreadedGateway:
    """The gateway in a thread with its own event loop, so a synchronous test can call it."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.settings = settings
        self.tenant: Tenant | None = None
        self.ids: dict[str, str] = {}
        """Path parameters of the tenant's real rows: its finished job, course, employee, role."""
        self.ready = threading.Event()
        self.server: uvicorn.Server | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.nats = EmbeddedNats(Path(tempfile.mkdtemp(prefix="coursegen-schemathesis-")) / "nats", secure=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test
            self.error = exc
            self.ready.set()

    async def _serve(self) -> None:
        assert self.settings.database_url
        pool = await connect(self.settings.database_url)
        try:
            self.tenant = await new_tenant(pool)
            # A finished job with its course: the operations that list or read one answer with real rows too.
            async with pipeline(self.settings):
                employee = next(iter(self.tenant.employees.values()))
                job_id = await request_job(self.settings, self.tenant.company_id, [employee])
                assert (await wait_for_job(pool, job_id))["status"] == "completed"
            row = await pool.fetchrow(
                """SELECT a.course_id, r.session_id, e.id AS employee_id, e.target_role_id AS role_id
                     FROM assembled_courses a JOIN course_runs r USING (session_id)
                     JOIN employees e ON e.id = r.employee_id WHERE a.job_id = $1""",
                job_id,
            )
            self.ids = {"job_id": str(job_id), "version": "1", "module_index": "0"}
            self.ids |= {name: str(value) for name, value in dict(row).items()}
            # Under review a course is the employee's, whatever generation made it: an id of its own.
            versioned = "SELECT course_id FROM courses WHERE company_id = $1 AND employee_id = $2"
            self.ids["reviewed_course_id"] = str(await pool.fetchval(versioned, self.tenant.company_id, employee))
        finally:
            await pool.close()
        gw = GatewaySettings(_env_file=None, rate_per_second=10_000, rate_burst=100_000)  # type: ignore[call-arg]
        # What the fuzzing publishes (job requests, resumes, review decisions: thousands, many for employees
        # with no role) goes to a nats-server of its own, which no pipeline of a later test ever reads.
        bus = self.settings.model_copy(
            update={"nats_url": self.nats.url_as("admin"), "nats_passwords_file": self.nats.passwords_file}
        )
        app = create_app(bus, gw)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None))
        serving = asyncio.create_task(self.server.serve())
        while not self.server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers no event
            await asyncio.sleep(0.05)
        self.ready.set()
        await serving

    def __enter__(self) -> ThreadedGateway:
        self.nats.start()
        self.thread.start()
        self.ready.wait(120)
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server:
            self.server.should_exit = True
        self.thread.join(15)
        self.nats.stop()
        shutil.rmtree(self.nats.store_dir.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def running_gateway(settings: Settings) -> Iterator[ThreadedGateway]:
    with ThreadedGateway(settings) as gateway:
        yield gateway


def schemathesis(gateway: ThreadedGateway, tmp_path: Path, name: str, *options: str) -> str:
    """Run ``st run`` as anyone would against the running gateway; its output is kept as a test artifact."""
    assert gateway.tenant is not None
    command = [
        str(Path(sys.executable).with_name("st")), *options[:2], "run",
        f"http://127.0.0.1:{gateway.port}/api/v1/openapi.json", *options[2:],
        "--header", f"Authorization: Bearer {gateway.tenant.api_key}",
        "--checks", "all",
        # Schema-valid is not always acceptable: a well-formed UUID of a role the company does not have, or
        # a job for no employees, is refused with a 422 problem by design.
        "--exclude-checks", "positive_data_acceptance",
        "--max-examples", "15",
        "--workers", "1",
        "--seed", "1",
        # An event stream answers for as long as the job lives: not a request/response operation to fuzz.
        "--exclude-path", "/api/v1/jobs/{job_id}/events",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=540, check=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"schemathesis-{name}.txt").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout or "passed" in done.stdout, done.stdout[-3000:]
    return done.stdout


def test_the_api_keeps_its_documented_contract(running_gateway: ThreadedGateway, tmp_path: Path) -> None:
    """Every check, every operation, any ids: valid and invalid requests alike."""
    schemathesis(running_gateway, tmp_path, "any-ids", "--config-file", os.devnull)


def test_the_api_keeps_its_contract_on_the_companys_own_rows(running_gateway: ThreadedGateway, tmp_path: Path) -> None:
    """Every operation on an id, on the company's real job, course, employee and role (a random UUID only
    finds a 404). Valid requests only: a pinned id replaces the invalid one a negative case was made of."""
    ids = dict(running_gateway.ids)
    reviewed = ids.pop("reviewed_course_id")
    config = tmp_path / "schemathesis.toml"
    reviews = '[[operations]]\ninclude-path-regex = "^/api/v1/reviews/"\n'
    config.write_text(
        "[parameters]\n"
        + "".join(f'"path.{k}" = "{v}"\n' for k, v in ids.items())
        + f'{reviews}parameters = {{ "path.course_id" = "{reviewed}" }}\n'
    )
    out = schemathesis(running_gateway, tmp_path, "own-rows", "--config-file", str(config), "--mode", "positive")
    # The pinned ids reach the operations: none of them is left answering only 404.
    warnings = out.partition("WARNINGS")[2].partition("\n=====")[0]
    missing = warnings.partition("Missing test data")[2].partition("Schema validation mismatch")[0]
    assert not [name for name in ids if f"{{{name}}}" in missing], missing
