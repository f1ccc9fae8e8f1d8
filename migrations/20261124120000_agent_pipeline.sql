-- migrate:up

-- The seed's tables keep their names and columns. What the pipeline adds:
-- companies, roles with required skills, employee skills, course runs, one
-- table per stage artifact (each with a unique key on what it is the result
-- of, which makes a redelivered message harmless) and agent runs.

CREATE TABLE companies (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE roles (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id  UUID NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (company_id, name)
);

CREATE TABLE role_skills (
    role_id        UUID NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    skill_name     TEXT NOT NULL,
    required_level INTEGER NOT NULL CHECK (required_level BETWEEN 1 AND 5),
    importance     INTEGER NOT NULL DEFAULT 3 CHECK (importance BETWEEN 1 AND 5),
    PRIMARY KEY (role_id, skill_name)
);

CREATE TABLE employees (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id      UUID NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    full_name       TEXT NOT NULL,
    email           TEXT,
    department      TEXT,
    position        TEXT,
    current_role_id UUID REFERENCES roles(id),
    target_role_id  UUID REFERENCES roles(id),
    profile         JSONB NOT NULL DEFAULT '{}'::jsonb,
    is_active       BOOLEAN NOT NULL DEFAULT true,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_employees_company ON employees(company_id);

CREATE TABLE employee_skills (
    employee_id UUID NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    skill_name  TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 0 AND 5),
    PRIMARY KEY (employee_id, skill_name)
);

-- One row per job. Seed columns; initiated_by is nullable because a job may
-- come from another system with no user behind it.
CREATE TABLE course_generation_jobs (
    job_id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id             UUID NOT NULL REFERENCES companies(id),
    initiated_by           UUID,
    total_employees        INTEGER NOT NULL,
    successful_courses     INTEGER NOT NULL DEFAULT 0,
    failed_courses         INTEGER NOT NULL DEFAULT 0,
    status                 TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                           ('pending', 'running', 'completed', 'completed_with_errors', 'failed', 'cancelled')),
    current_phase          TEXT,
    progress_percentage    INTEGER NOT NULL DEFAULT 0,
    current_employee_id    UUID,
    current_employee_name  TEXT,
    started_at             TIMESTAMPTZ,
    completed_at           TIMESTAMPTZ,
    estimated_completion   TIMESTAMPTZ,
    error_message          TEXT,
    failed_employee_ids    UUID[] NOT NULL DEFAULT '{}',
    job_config             JSONB NOT NULL DEFAULT '{}'::jsonb,
    statistics             JSONB NOT NULL DEFAULT '{}'::jsonb,
    request_event_id       UUID UNIQUE,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_course_generation_jobs_company ON course_generation_jobs(company_id);
CREATE INDEX idx_course_generation_jobs_status ON course_generation_jobs(status);
CREATE INDEX idx_course_generation_jobs_initiated_by ON course_generation_jobs(initiated_by);

-- One course run = one employee in one job, keyed by session_id.
CREATE TABLE course_runs (
    session_id          TEXT PRIMARY KEY,
    job_id              UUID NOT NULL REFERENCES course_generation_jobs(job_id) ON DELETE CASCADE,
    company_id          UUID NOT NULL REFERENCES companies(id),
    employee_id         UUID NOT NULL REFERENCES employees(id),
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                        ('pending', 'running', 'completed', 'no_gaps', 'failed', 'cancelled')),
    current_stage       TEXT,
    modules_total       INTEGER,
    modules_done        INTEGER NOT NULL DEFAULT 0,
    progress_percentage INTEGER NOT NULL DEFAULT 0,
    epoch               INTEGER NOT NULL DEFAULT 0,
    error_stage         TEXT,
    error_kind          TEXT,
    error_message       TEXT,
    error_attempts      INTEGER,
    last_progress_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at        TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (job_id, employee_id)
);
CREATE INDEX idx_course_runs_job ON course_runs(job_id);
CREATE INDEX idx_course_runs_status ON course_runs(status);

-- Planner output (seed columns), one per course run.
CREATE TABLE cm_course_plans (
    plan_id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    employee_id            UUID NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    employee_name          TEXT NOT NULL,
    session_id             TEXT NOT NULL UNIQUE REFERENCES course_runs(session_id) ON DELETE CASCADE,
    job_id                 UUID NOT NULL,
    company_id             UUID NOT NULL,
    course_structure       JSONB NOT NULL,
    prioritized_gaps       JSONB NOT NULL,
    research_strategy      JSONB,
    learning_path          JSONB,
    employee_profile       JSONB,
    planning_agent_version TEXT DEFAULT 'v1',
    total_modules          INTEGER,
    course_duration_weeks  INTEGER,
    course_title           TEXT,
    tool_calls             JSONB[],
    execution_time_seconds DECIMAL,
    agent_turns            INTEGER,
    status                 TEXT DEFAULT 'completed' CHECK (status IN ('planning', 'completed', 'failed')),
    created_at             TIMESTAMPTZ DEFAULT now(),
    updated_at             TIMESTAMPTZ DEFAULT now()
);
CREATE INDEX idx_cm_course_plans_employee ON cm_course_plans(employee_id);
CREATE INDEX idx_cm_course_plans_created ON cm_course_plans(created_at DESC);

CREATE TABLE research_findings (
    finding_id   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id   TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    module_index INTEGER NOT NULL,
    job_id       UUID NOT NULL,
    module_title TEXT NOT NULL,
    summary      TEXT NOT NULL,
    findings     JSONB NOT NULL,
    sources      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (session_id, module_index)
);

-- Content output (seed columns), one per module revision.
CREATE TABLE cm_module_content (
    content_id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id             UUID NOT NULL,
    job_id                 UUID NOT NULL,
    module_name            TEXT NOT NULL,
    employee_name          TEXT NOT NULL,
    session_id             TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    module_index           INTEGER NOT NULL,
    revision               INTEGER NOT NULL DEFAULT 0,
    introduction           TEXT,
    core_content           TEXT,
    practical_applications TEXT,
    case_studies           TEXT,
    assessments            TEXT,
    module_spec            JSONB NOT NULL,
    research_context       JSONB,
    total_word_count       INTEGER DEFAULT 0,
    section_word_counts    JSONB DEFAULT '{}'::jsonb,
    status                 TEXT DEFAULT 'draft',
    priority_level         TEXT DEFAULT 'medium',
    revision_count         INTEGER DEFAULT 0,
    created_at             TIMESTAMPTZ DEFAULT now(),
    updated_at             TIMESTAMPTZ DEFAULT now(),
    UNIQUE (session_id, module_index, revision)
);

CREATE TABLE quality_reports (
    report_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id   TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    module_index INTEGER NOT NULL,
    revision     INTEGER NOT NULL,
    job_id       UUID NOT NULL,
    score        NUMERIC(5, 2) NOT NULL,
    passed       BOOLEAN NOT NULL,
    decision     TEXT NOT NULL CHECK (decision IN ('pass', 'revise', 'pass_with_warning')),
    rubric       JSONB NOT NULL,
    feedback     JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (session_id, module_index, revision)
);

CREATE TABLE module_enhancements (
    enhancement_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id     TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    module_index   INTEGER NOT NULL,
    job_id         UUID NOT NULL,
    examples       JSONB NOT NULL,
    exercises      JSONB NOT NULL,
    quiz           JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (session_id, module_index)
);

CREATE TABLE module_multimedia (
    multimedia_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id       TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    module_index     INTEGER NOT NULL,
    job_id           UUID NOT NULL,
    diagram_mermaid  TEXT NOT NULL,
    diagram_svg      TEXT NOT NULL,
    alt_text         TEXT NOT NULL,
    narration_script TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (session_id, module_index)
);

-- The finalizer's join: one row per module that reached it.
CREATE TABLE finalizer_arrivals (
    session_id   TEXT NOT NULL REFERENCES course_runs(session_id) ON DELETE CASCADE,
    module_index INTEGER NOT NULL,
    arrived_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, module_index)
);

CREATE TABLE assembled_courses (
    course_id     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id    TEXT NOT NULL UNIQUE REFERENCES course_runs(session_id) ON DELETE CASCADE,
    job_id        UUID NOT NULL,
    company_id    UUID NOT NULL,
    employee_id   UUID NOT NULL,
    title         TEXT NOT NULL,
    total_modules INTEGER NOT NULL,
    word_count    INTEGER NOT NULL,
    course        JSONB NOT NULL,
    markdown      TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_assembled_courses_job ON assembled_courses(job_id);

-- Every agent run: what it cost and how it ended.
CREATE TABLE agent_runs (
    run_id        UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id        UUID NOT NULL,
    session_id    TEXT NOT NULL,
    employee_id   UUID NOT NULL,
    stage         TEXT NOT NULL,
    module_index  INTEGER NOT NULL DEFAULT -1,
    revision      INTEGER NOT NULL DEFAULT 0,
    model         TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    requests      INTEGER NOT NULL DEFAULT 0,
    turns         INTEGER NOT NULL DEFAULT 0,
    tool_calls    INTEGER NOT NULL DEFAULT 0,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    attempt       INTEGER NOT NULL DEFAULT 1,
    status        TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'discarded')),
    error         TEXT,
    input_text_tokens  INTEGER NOT NULL DEFAULT 0,
    transcript_tokens  INTEGER NOT NULL DEFAULT 0,
    worker        TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_agent_runs_job ON agent_runs(job_id);
-- At most one successful run per unit of work.
CREATE UNIQUE INDEX uq_agent_runs_success ON agent_runs(session_id, stage, module_index, revision)
    WHERE status = 'succeeded';

-- Every event on the bus, once (seed columns plus the envelope).
CREATE TABLE cm_agent_handoffs (
    handoff_id        UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id          UUID NOT NULL UNIQUE,
    subject           TEXT NOT NULL,
    job_id            UUID,
    company_id        UUID,
    employee_id       UUID,
    session_id        TEXT,
    module_index      INTEGER,
    revision          INTEGER,
    from_agent        TEXT NOT NULL,
    to_agent          TEXT NOT NULL,
    handoff_context   JSONB,
    content_id        UUID,
    plan_id           UUID,
    handoff_timestamp TIMESTAMPTZ DEFAULT now(),
    occurred_at       TIMESTAMPTZ,
    success           BOOLEAN DEFAULT true,
    error_details     TEXT,
    token_count       INTEGER,
    execution_time_ms INTEGER,
    retry_count       INTEGER DEFAULT 0,
    trace_id          TEXT
);
CREATE INDEX idx_cm_agent_handoffs_session ON cm_agent_handoffs(session_id);
CREATE INDEX idx_cm_agent_handoffs_job ON cm_agent_handoffs(job_id);
CREATE INDEX idx_cm_agent_handoffs_content ON cm_agent_handoffs(content_id);
CREATE INDEX idx_cm_agent_handoffs_timestamp ON cm_agent_handoffs(handoff_timestamp DESC);
CREATE INDEX idx_cm_agent_handoffs_trace ON cm_agent_handoffs(trace_id);

-- Messages that could not be parsed at all: kept, never retried.
CREATE TABLE rejected_messages (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    subject     TEXT NOT NULL,
    service     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    headers     JSONB NOT NULL DEFAULT '{}'::jsonb,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER update_cm_course_plans_updated_at BEFORE UPDATE ON cm_course_plans
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_course_generation_jobs_updated_at BEFORE UPDATE ON course_generation_jobs
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_course_runs_updated_at BEFORE UPDATE ON course_runs
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_cm_module_content_updated_at BEFORE UPDATE ON cm_module_content
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

COMMENT ON TABLE cm_agent_handoffs IS 'Every event of the pipeline, written once by the tracker';
COMMENT ON TABLE course_runs IS 'One course run per employee per job (session_id)';
COMMENT ON COLUMN course_runs.epoch IS 'Raised by resume, so re-driven handoffs are not taken for duplicates';

-- migrate:down
DROP TABLE IF EXISTS rejected_messages, cm_agent_handoffs, agent_runs, assembled_courses,
    finalizer_arrivals, module_multimedia, module_enhancements, quality_reports,
    cm_module_content, research_findings, cm_course_plans, course_runs,
    course_generation_jobs, employee_skills, employees, role_skills, roles, companies CASCADE;
DROP FUNCTION IF EXISTS update_updated_at_column();
