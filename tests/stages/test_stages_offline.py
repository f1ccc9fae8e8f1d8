"""Each stage's agent under the offline model, driven through the stage protocol without NATS.

The handoffs a stage publishes are fed to the next stage by an in-memory loop,
so every stage runs its real agent, tools, store and route against PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg
import mermaid_render
import pytest

from coursegen.shared.consume import settle
from coursegen.shared.events import Handoff
from coursegen.shared.settings import Settings
from coursegen.shared.stage import StageRunner
from coursegen.shared.subjects import STAGES
from tests.fakes import FakeDelivery, RecordingBus
from tests.helpers import IN_MEMORY_RETRY, accept_in_memory, in_memory_handler, make_company


async def drive(
    db: asyncpg.Pool[Any], settings: Settings, company_id: uuid.UUID, employee_ids: list[uuid.UUID]
) -> tuple[uuid.UUID, RecordingBus, dict[str, list[str]]]:
    """Run a job through every stage in memory; returns the job id, the bus and each delivery's outcome."""
    bus = RecordingBus()
    runners = {s: in_memory_handler(s, settings, db, bus) for s in STAGES}
    outcomes: dict[str, list[str]] = {s: [] for s in STAGES}
    request = await accept_in_memory(settings, db, bus, company_id, employee_ids)
    cursor = 0
    while cursor < len(bus.published):
        subject, event = bus.published[cursor]
        cursor += 1
        if isinstance(event, Handoff):
            runner: StageRunner[Any] = runners[event.stage]
            delivery = FakeDelivery(subject, event.model_dump_json().encode())
            outcomes[event.stage].append(
                await settle(delivery, runner.handle, retry=IN_MEMORY_RETRY, on_permanent=runner.on_permanent)
            )
    return request.job_id, bus, outcomes


@pytest.fixture(scope="module")
async def driven(settings: Settings) -> dict[str, Any]:
    from coursegen.shared.store import connect

    assert settings.database_url
    pool = await connect(settings.database_url)
    company_id, employees = await make_company(pool)
    job_id, bus, outcomes = await drive(pool, settings, company_id, list(employees.values()))
    yield {"db": pool, "job_id": job_id, "bus": bus, "outcomes": outcomes, "employees": employees}
    await pool.close()


async def runs_of(db: asyncpg.Pool[Any], job_id: uuid.UUID, stage: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM agent_runs WHERE job_id = $1 AND stage = $2", job_id, stage)
    return [dict(r) for r in rows]


async def test_every_delivery_was_acked(driven: dict[str, Any]) -> None:
    for stage, outcomes in driven["outcomes"].items():
        assert outcomes and set(outcomes) == {"ack"}, stage


async def test_planner_maps_every_prioritized_gap_to_a_module(driven: dict[str, Any]) -> None:
    db, job_id = driven["db"], driven["job_id"]
    plans = await db.fetch("SELECT * FROM cm_course_plans WHERE job_id = $1", job_id)
    assert len(plans) == len(driven["employees"])
    for plan in plans:
        gaps = {g["skill"] for g in plan["prioritized_gaps"]}
        covered = {s for m in plan["course_structure"]["modules"] for s in m["skills"]}
        assert gaps and gaps <= covered
        assert plan["total_modules"] == len(plan["course_structure"]["modules"]) == len(plan["learning_path"])
        assert plan["course_duration_weeks"] == sum(m["duration_weeks"] for m in plan["course_structure"]["modules"])
        assert plan["agent_turns"] == 2 and [t["tool"] for t in plan["tool_calls"]] == [
            "get_employee_profile",
            "analyze_skill_gaps",
            "get_reviewer_comments",
        ]
    for run in await runs_of(db, job_id, "planner"):
        assert run["status"] == "succeeded" and run["input_tokens"] > 0 and run["output_tokens"] > 0
        assert run["model"] == "offline" and run["tool_calls"] == 3


async def test_researcher_findings_are_grounded_in_passages(driven: dict[str, Any]) -> None:
    db, job_id = driven["db"], driven["job_id"]
    rows = await db.fetch("SELECT * FROM research_findings WHERE job_id = $1", job_id)
    assert rows
    for row in rows:
        refs = {s["ref"] for s in row["sources"]}
        assert row["findings"] and all(f["source_ref"] in refs for f in row["findings"])
        for source in row["sources"]:
            passage = await db.fetchval(
                "SELECT content FROM kb_passages WHERE passage_id = $1::uuid", source["passage_id"]
            )
            assert passage is not None and source["quote"] in passage


async def test_content_citations_resolve_to_stored_sources(driven: dict[str, Any]) -> None:
    db, job_id = driven["db"], driven["job_id"]
    rows = await db.fetch(
        "SELECT c.*, r.sources FROM cm_module_content c JOIN research_findings r USING (session_id, module_index) "
        "WHERE c.job_id = $1",
        job_id,
    )
    assert rows
    for row in rows:
        refs = {s["ref"] for s in row["sources"]}
        text = " ".join(row[k] for k in ("introduction", "core_content", "practical_applications", "case_studies"))
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
        assert cited and cited <= refs
        assert row["total_word_count"] == sum(row["section_word_counts"].values())


async def test_quality_loop_revises_and_stays_bounded(driven: dict[str, Any]) -> None:
    db, job_id = driven["db"], driven["job_id"]
    reports = await db.fetch("SELECT * FROM quality_reports WHERE job_id = $1", job_id)
    assert any(r["decision"] == "revise" for r in reports), "the demo data should exercise a revision"
    assert max(r["revision"] for r in reports) <= 2
    for r in reports:
        if r["decision"] == "revise":
            assert r["feedback"] and not r["passed"]
            # the revision exists and was reviewed again
            assert await db.fetchval(
                "SELECT 1 FROM quality_reports WHERE session_id = $1 AND module_index = $2 AND revision = $3",
                r["session_id"],
                r["module_index"],
                r["revision"] + 1,
            )


async def test_enhancer_quiz_has_an_answer_key(driven: dict[str, Any]) -> None:
    rows = await driven["db"].fetch(
        "SELECT quiz, examples, exercises FROM module_enhancements WHERE job_id = $1", driven["job_id"]
    )
    assert rows
    for row in rows:
        assert row["examples"] and row["exercises"] and row["quiz"]
        for q in row["quiz"]:
            assert len(q["options"]) == 4 and 0 <= q["answer_index"] < 4 and q["explanation"]


async def test_multimedia_diagrams_parse(driven: dict[str, Any]) -> None:
    rows = await driven["db"].fetch("SELECT * FROM module_multimedia WHERE job_id = $1", driven["job_id"])
    assert rows
    for row in rows:
        assert mermaid_render.mermaid_to_svg(row["diagram_mermaid"]).startswith(b"<svg")
        assert row["diagram_svg"].startswith("<svg") and row["alt_text"] and row["narration_script"]


async def test_finalizer_assembles_each_course_exactly_once(driven: dict[str, Any]) -> None:
    db, job_id = driven["db"], driven["job_id"]
    courses = await db.fetch("SELECT * FROM assembled_courses WHERE job_id = $1", job_id)
    assert len(courses) == len(driven["employees"])
    assert len(await runs_of(db, job_id, "finalizer")) == len(courses)
    statuses = await db.fetch("SELECT status, modules_done, modules_total FROM course_runs WHERE job_id = $1", job_id)
    assert all(s["status"] == "completed" and s["modules_done"] == s["modules_total"] for s in statuses)
    ready = [e for subject, e in driven["bus"].published if subject == "coursegen.course.ready"]
    assert len(ready) == len(courses)


async def test_a_redelivered_handoff_spends_no_tokens(driven: dict[str, Any], settings: Settings) -> None:
    db, job_id = driven["db"], driven["job_id"]
    bus = RecordingBus()
    before = await db.fetchval("SELECT count(*) FROM agent_runs WHERE job_id = $1", job_id)
    for stage in STAGES:
        handoff = next(e for _, e in driven["bus"].published if isinstance(e, Handoff) and e.stage == stage)
        runner = in_memory_handler(stage, settings, db, bus)
        delivery = FakeDelivery(f"coursegen.handoff.{stage}", handoff.model_dump_json().encode(), attempt=2)
        assert await settle(delivery, runner.handle, retry=IN_MEMORY_RETRY, on_permanent=runner.on_permanent) == "ack"
    assert await db.fetchval("SELECT count(*) FROM agent_runs WHERE job_id = $1", job_id) == before
    # ... and the next handoffs go out again, with the same message ids as the first time.
    first_ids = {e.msg_id for _, e in driven["bus"].published if isinstance(e, Handoff)}
    assert {e.msg_id for _, e in bus.published if isinstance(e, Handoff)} <= first_ids
