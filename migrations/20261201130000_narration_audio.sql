-- migrate:up
-- Narration audio of a module, made by the multimedia stage from its narration script: stored once,
-- played in the app and packed into every export. No row: no speech engine was available.
CREATE TABLE module_narration_audio (
    session_id   TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    module_index INTEGER NOT NULL,
    company_id   UUID NOT NULL,
    mime         TEXT NOT NULL,
    audio        BYTEA NOT NULL,
    engine       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, module_index)
);
CREATE INDEX idx_module_narration_audio_company ON module_narration_audio(company_id);

-- migrate:down
DROP TABLE IF EXISTS module_narration_audio;
