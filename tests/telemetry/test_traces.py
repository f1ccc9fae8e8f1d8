"""One OpenTelemetry trace per course, across every service process, as a trace backend receives it."""

from __future__ import annotations

from collections import defaultdict

from coursegen.shared.store import connect
from coursegen.shared.subjects import SERVICES, STAGES
from tests.telemetry.conftest import TracedRun
from tests.telemetry.otlp_receiver import ExportedSpan


class Tree:
    """The spans of one trace, walkable by parent."""

    def __init__(self, spans: list[ExportedSpan]) -> None:
        self.spans = spans
        self.by_id = {s.span_id: s for s in spans}
        self.children: dict[str, list[ExportedSpan]] = defaultdict(list)
        for span in spans:
            self.children[span.parent_span_id].append(span)

    def ancestors(self, span: ExportedSpan) -> list[ExportedSpan]:
        found = []
        while span.parent_span_id in self.by_id:
            span = self.by_id[span.parent_span_id]
            found.append(span)
        return found

    def descendants(self, span: ExportedSpan) -> list[ExportedSpan]:
        found, todo = [], [span]
        while todo:
            for child in self.children[todo.pop().span_id]:
                found.append(child)
                todo.append(child)
        return found


def course_traces(run: TracedRun) -> dict[str, str]:
    """session_id → the one trace id its spans carry."""
    traces: dict[str, set[str]] = defaultdict(set)
    for span in run.spans:
        session = span.attributes.get("coursegen.session_id")
        if session in run.sessions:
            traces[session].add(span.trace_id)
    assert set(traces) == set(run.sessions), "a course run has no spans"
    for session, ids in traces.items():
        assert len(ids) == 1, f"course {session} is spread over {len(ids)} traces"
    return {session: next(iter(ids)) for session, ids in traces.items()}


def test_one_trace_per_course_with_spans_from_every_service(traced_run: TracedRun) -> None:
    assert traced_run.job["status"] == "completed"
    traces = course_traces(traced_run)
    assert len(set(traces.values())) == len(traced_run.sessions), "two courses share a trace"
    for session, trace_id in traces.items():
        services = {s.service for s in traced_run.spans if s.trace_id == trace_id}
        assert services == {f"coursegen-{name}" for name in SERVICES}, session
        [root] = [s for s in traced_run.spans if s.trace_id == trace_id and not s.parent_span_id]
        assert (root.name, root.service) == ("course", "coursegen-coordinator")
        assert root.attributes["coursegen.session_id"] == session


def test_each_stage_descends_from_the_previous_stages_handoff(traced_run: TracedRun) -> None:
    for session, trace_id in course_traces(traced_run).items():
        tree = Tree([s for s in traced_run.spans if s.trace_id == trace_id])
        stage_spans = [s for s in tree.spans if s.name.startswith("stage ")]
        assert {s.attributes["coursegen.stage"] for s in stage_spans} == set(STAGES), session
        for span in stage_spans:
            stage = span.attributes["coursegen.stage"]
            previous = span.attributes["coursegen.from_stage"]
            assert span.service == f"coursegen-{stage}"
            chain = tree.ancestors(span)
            # The handoff that brought the work: published by the previous stage's process.
            handoff = next(a for a in chain if a.name == f"coursegen.handoff.{stage} create")
            assert handoff.service == f"coursegen-{previous}", (stage, previous)
            above = tree.ancestors(handoff)
            if stage == "planner":
                assert previous == "coordinator" and above and above[-1].name == "course"
                continue
            prior = next(a for a in above if a.name == f"stage {previous}")
            assert prior.service == f"coursegen-{previous}"
            if previous != "planner":
                assert prior.attributes["coursegen.module_index"] == span.attributes["coursegen.module_index"]


def test_agent_model_and_tool_spans_sit_inside_the_stage(traced_run: TracedRun) -> None:
    ran = [s for s in traced_run.spans if s.name.startswith("stage ") and s.attributes.get("coursegen.claim") == "run"]
    assert {s.attributes["coursegen.stage"] for s in ran} == set(STAGES)
    by_trace: dict[str, list[ExportedSpan]] = defaultdict(list)
    for span in traced_run.spans:
        by_trace[span.trace_id].append(span)
    for stage_span in ran:
        inside = Tree(by_trace[stage_span.trace_id]).descendants(stage_span)
        stage = stage_span.attributes["coursegen.stage"]
        agents = [s for s in inside if s.name == f"invoke_agent {stage}"]
        models = [s for s in inside if s.attributes.get("gen_ai.operation.name") == "chat"]
        tools = [s for s in inside if s.name.startswith("execute_tool ")]
        assert agents and all(s.service == stage_span.service for s in agents), stage
        assert models and all(s.attributes["gen_ai.request.model"] == "offline" for s in models), stage
        assert sum(s.attributes.get("gen_ai.usage.input_tokens", 0) for s in models) > 0, stage
        assert tools and all(s.attributes["gen_ai.tool.name"] for s in tools), stage
        queries = [s for s in inside if s.attributes.get("db.system") == "postgresql"]
        assert queries, f"no database spans inside {stage}"
        assert not any("db.statement.parameters" in s.attributes for s in queries)


async def test_recorded_handoffs_carry_the_courses_trace_id(traced_run: TracedRun) -> None:
    traces = course_traces(traced_run)
    db = await connect(traced_run.database_url, min_size=1, max_size=1)
    try:
        rows = await db.fetch(
            "SELECT session_id, subject, trace_id FROM cm_agent_handoffs WHERE job_id = $1 AND session_id IS NOT NULL",
            traced_run.job_id,
        )
    finally:
        await db.close()
    assert {r["session_id"] for r in rows} == set(traces)
    for row in rows:
        assert row["trace_id"] == traces[row["session_id"]], (row["subject"], row["session_id"])
    assert {"coursegen.handoff.planner", "coursegen.handoff.finalizer", "coursegen.course.ready"} <= {
        r["subject"] for r in rows
    }
