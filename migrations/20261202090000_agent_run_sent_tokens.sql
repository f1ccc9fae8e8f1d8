-- migrate:up
-- Where an agent run's input tokens went: instructions, tool definitions and output schema, and tool
-- results as first sent, and what later turns re-sent. The rest of input_tokens is the prompt and the
-- model's own tool calls (for a real model, also the provider's framing).
ALTER TABLE agent_runs
    ADD COLUMN instruction_tokens BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN schema_tokens      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN tool_result_tokens BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN repeat_tokens      BIGINT NOT NULL DEFAULT 0;

-- migrate:down
ALTER TABLE agent_runs
    DROP COLUMN instruction_tokens,
    DROP COLUMN schema_tokens,
    DROP COLUMN tool_result_tokens,
    DROP COLUMN repeat_tokens;
