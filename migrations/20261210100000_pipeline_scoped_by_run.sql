-- migrate:up

-- The pipeline's role (coursegen_app) under row-level security too, once its work is scoped:
--   * a transaction or session scoped to a company (`coursegen.company_id` set) sees and writes
--     only that company's rows, through the company_scope policies every role has. A stage scopes
--     its connection to the stored course run's company as soon as the run is loaded and checked
--     against the message, and its agent's tools run on connections scoped the same way: from
--     there on, no query of a stage reaches another company's rows, whatever ids it is given;
--   * unscoped, the role still sees every company: what must happen before a company is known
--     (a stage loading a run by its session id, the coordinator checking a request's employees and
--     idempotency key) and the work that is every company's (the tracker's event log, the sweeps
--     for stalled runs, the CLI's operator commands).
-- Before this migration the role's policy let it see every row even when scoped.
-- rejected_messages keeps pipeline_all: it is no company's (refused before a company was known).

DO $$
DECLARE
  t text;
  unscoped constant text := $q$nullif(current_setting('coursegen.company_id', true), '') IS NULL$q$;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coursegen_app') THEN
    RAISE NOTICE 'no role coursegen_app: no pipeline policies to change';
    RETURN;
  END IF;
  FOR t IN
    SELECT tablename FROM pg_policies
     WHERE schemaname = 'public' AND policyname = 'pipeline_all' AND tablename <> 'rejected_messages'
  LOOP
    EXECUTE format('DROP POLICY pipeline_all ON %I', t);
    EXECUTE format('CREATE POLICY pipeline_unscoped ON %I TO coursegen_app USING (%s) WITH CHECK (%s)',
                   t, unscoped, unscoped);
  END LOOP;
END $$;

-- migrate:down

DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_policies WHERE schemaname = 'public' AND policyname = 'pipeline_unscoped' LOOP
    EXECUTE format('DROP POLICY pipeline_unscoped ON %I', t);
    EXECUTE format('CREATE POLICY pipeline_all ON %I TO coursegen_app USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;
