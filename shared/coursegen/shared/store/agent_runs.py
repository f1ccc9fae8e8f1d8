"""The record of every agent run: model, tokens, requests, turns, tool calls, time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from coursegen.shared.store._pool import Connection


class AgentRunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """The run failed part-way; what it spent is recorded (and counts against the budget)."""
    DISCARDED = "discarded"
    """Another delivery stored the same unit of work first: a re-run, counted on its own."""


@dataclass(frozen=True)
class AgentRunRecord:
    job_id: uuid.UUID
    session_id: str
    employee_id: uuid.UUID
    stage: str
    module_index: int | None
    revision: int
    model: str
    input_tokens: int
    output_tokens: int
    requests: int
    turns: int
    tool_calls: int
    duration_ms: int
    attempt: int
    status: AgentRunStatus
    error: str | None = None
    input_text_tokens: int = 0
    """tiktoken count of everything the model was sent (the tokens the agent actually received)."""
    transcript_tokens: int = 0
    """tiktoken count of the run's whole conversation (what a chained handoff would pass on)."""
    worker: str | None = None
    """Which replica ran it (host, process, instance)."""
    instruction_tokens: int = 0
    """Of the input tokens: the instructions, as first sent (see ``coursegen.shared.sent``)."""
    schema_tokens: int = 0
    """Of the input tokens: tool definitions and the output schema, as first sent."""
    tool_result_tokens: int = 0
    """Of the input tokens: tool results, as first sent."""
    repeat_tokens: int = 0
    """Of the input tokens: what later turns re-sent (instructions, schemas, the conversation so far)."""


async def insert_agent_run(conn: Connection, r: AgentRunRecord) -> uuid.UUID | None:
    """Insert the record; None when a successful run of this unit of work is already stored."""
    run_id: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO agent_runs (job_id, session_id, employee_id, stage, module_index, revision, model,
                                input_tokens, output_tokens, requests, turns, tool_calls, duration_ms,
                                attempt, status, error, input_text_tokens, transcript_tokens, worker,
                                instruction_tokens, schema_tokens, tool_result_tokens, repeat_tokens)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                $20, $21, $22, $23)
        ON CONFLICT DO NOTHING
        RETURNING run_id
        """,
        r.job_id,
        r.session_id,
        r.employee_id,
        r.stage,
        -1 if r.module_index is None else r.module_index,
        r.revision,
        r.model,
        r.input_tokens,
        r.output_tokens,
        r.requests,
        r.turns,
        r.tool_calls,
        r.duration_ms,
        r.attempt,
        str(r.status),
        r.error,
        r.input_text_tokens,
        r.transcript_tokens,
        r.worker,
        r.instruction_tokens,
        r.schema_tokens,
        r.tool_result_tokens,
        r.repeat_tokens,
    )
    return run_id


async def tokens_used(conn: Connection, job_id: uuid.UUID) -> int:
    """Every token the job's agent runs spent, failed and discarded runs included."""
    used: int = await conn.fetchval(
        "SELECT coalesce(sum(input_tokens::bigint + output_tokens), 0) FROM agent_runs WHERE job_id = $1", job_id
    )
    return used
