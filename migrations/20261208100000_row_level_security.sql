-- Row-level security on every company-scoped table, enforced (FORCE: the table owner too).
--
-- Who sees what:
--   * Every role without a policy of its own, the gateway's role (coursegen_gateway) first of all,
--     sees and writes only the rows of the company its transaction is scoped to: the store sets
--     `coursegen.company_id` per transaction (store/_pool.py, scope_to_company). A query without
--     the setting sees nothing (fail-closed), and a row for another company cannot be written.
--     Tables without a company_id column follow the row they belong to (a course run, a job, an
--     employee, a role, a document). The shared knowledge base (documents with no company) is
--     readable by every scoped transaction and written by none.
--   * The pipeline's role (coursegen_app) has a permissive policy: its services work for every
--     company and check tenancy in code against the stored course run (DESIGN.md, "Who owns the
--     data"), as do the CLI's operator commands, which use the same role. Putting the pipeline
--     under these policies too (scoping each message's transaction to its run's company) is left
--     for later: today RLS is a wall for the internet-facing gateway only.
--   * The owner of the tables (who runs the migrations) has a permissive policy too: FORCE would
--     otherwise hide every row from a data migration, and the lookups below run as the owner.
--
-- Lookups that must happen before the company is known (sign-in by email, a session or an API
-- key or a learner's link by its digest, whether an idempotency key is another company's) are
-- SECURITY DEFINER functions owned by the owner, with a fixed search_path, returning only what
-- the caller needs.
--
-- Roles are cluster-wide and made outside migrations (see 20261201120000_app_role_grants.sql);
-- the policies name only roles that exist when this runs (without coursegen_app its policy is
-- skipped, and the pipeline then sees nothing: create the roles before migrating).

-- migrate:up

-- `nullif(current_setting('coursegen.company_id', true), '')::uuid` is the transaction's company:
-- NULL when never set, and '' (so NULL) once the transaction that set it has ended. The policies
-- spell it out rather than call a function, so each reads whole in \d+ and pg_policies.

DO $$
DECLARE
  t text;
  scoped text[] := ARRAY[
    'companies', 'roles', 'role_skills', 'employees', 'employee_skills',
    'course_generation_jobs', 'gateway_job_requests', 'company_requests', 'course_runs', 'course_run_steps',
    'cm_agent_handoffs', 'agent_runs', 'cm_course_plans', 'research_findings', 'cm_module_content',
    'quality_reports', 'module_enhancements', 'module_multimedia', 'module_narration_audio',
    'finalizer_arrivals', 'assembled_courses', 'courses', 'course_versions', 'claim_flags',
    'review_requests', 'review_audit', 'learner_links', 'learner_progress', 'quiz_attempts',
    'kb_documents', 'kb_passages', 'users', 'user_sessions', 'api_keys',
    -- not a company's: messages refused before their company was known; the gateway never reads them
    'rejected_messages'
  ];
BEGIN
  FOREACH t IN ARRAY scoped LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY owner_all ON %I TO %I USING (true) WITH CHECK (true)',
      t, (SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = t)
    );
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'coursegen_app') THEN
      EXECUTE format('CREATE POLICY pipeline_all ON %I TO coursegen_app USING (true) WITH CHECK (true)', t);
    ELSE
      RAISE NOTICE 'no role coursegen_app: no pipeline policy on %', t;
    END IF;
  END LOOP;
END $$;

DO $$
DECLARE
  company constant text := $q$nullif(current_setting('coursegen.company_id', true), '')::uuid$q$;
  t text;
  parent record;
BEGIN
  -- Tables with a company_id column.
  FOREACH t IN ARRAY ARRAY[
    'roles', 'employees', 'course_generation_jobs', 'gateway_job_requests', 'company_requests', 'course_runs',
    'cm_agent_handoffs', 'cm_course_plans', 'cm_module_content', 'module_narration_audio', 'assembled_courses',
    'courses', 'course_versions', 'claim_flags', 'review_requests', 'review_audit', 'learner_links',
    'learner_progress', 'quiz_attempts', 'users', 'user_sessions', 'api_keys'
  ] LOOP
    EXECUTE format('CREATE POLICY company_scope ON %I USING (company_id = %s) WITH CHECK (company_id = %s)',
                   t, company, company);
  END LOOP;

  -- The company itself.
  EXECUTE format('CREATE POLICY company_scope ON companies USING (id = %s) WITH CHECK (id = %s)', company, company);

  -- Rows that belong to a company through another row: (table, its column, the parent, the parent's key).
  FOR parent IN
    SELECT * FROM (VALUES
      ('role_skills', 'role_id', 'roles', 'id'),
      ('employee_skills', 'employee_id', 'employees', 'id'),
      ('agent_runs', 'job_id', 'course_generation_jobs', 'job_id'),
      ('course_run_steps', 'session_id', 'course_runs', 'session_id'),
      ('finalizer_arrivals', 'session_id', 'course_runs', 'session_id'),
      ('research_findings', 'session_id', 'course_runs', 'session_id'),
      ('quality_reports', 'session_id', 'course_runs', 'session_id'),
      ('module_enhancements', 'session_id', 'course_runs', 'session_id'),
      ('module_multimedia', 'session_id', 'course_runs', 'session_id')
    ) AS p (child, child_column, parent_table, parent_key)
  LOOP
    EXECUTE format(
      'CREATE POLICY company_scope ON %1$I USING (%2$s) WITH CHECK (%2$s)',
      parent.child,
      format('EXISTS (SELECT FROM %I p WHERE p.%I = %I.%I AND p.company_id = %s)',
             parent.parent_table, parent.parent_key, parent.child, parent.child_column, company)
    );
  END LOOP;

  -- The knowledge base: a company's own documents, and the shared library (no company) to read only.
  EXECUTE format('CREATE POLICY company_read ON kb_documents FOR SELECT USING (%1$s IS NOT NULL '
                 'AND (company_id IS NULL OR company_id = %1$s))', company);
  EXECUTE format('CREATE POLICY company_insert ON kb_documents FOR INSERT WITH CHECK (company_id = %s)', company);
  EXECUTE format('CREATE POLICY company_update ON kb_documents FOR UPDATE USING (company_id = %1$s) '
                 'WITH CHECK (company_id = %1$s)', company);
  EXECUTE format('CREATE POLICY company_delete ON kb_documents FOR DELETE USING (company_id = %s)', company);
  -- A passage is read with its document (the document's own policy decides), and written only
  -- into one of the company's own documents.
  EXECUTE 'CREATE POLICY company_read ON kb_passages FOR SELECT USING (EXISTS '
          '(SELECT FROM kb_documents d WHERE d.document_id = kb_passages.document_id))';
  t := format('EXISTS (SELECT FROM kb_documents d WHERE d.document_id = kb_passages.document_id '
              'AND d.company_id = %s)', company);
  EXECUTE format('CREATE POLICY company_insert ON kb_passages FOR INSERT WITH CHECK (%s)', t);
  EXECUTE format('CREATE POLICY company_update ON kb_passages FOR UPDATE USING (%1$s) WITH CHECK (%1$s)', t);
  EXECUTE format('CREATE POLICY company_delete ON kb_passages FOR DELETE USING (%s)', t);
END $$;

-- rejected_messages has no company policy: only the pipeline and the owner see it.

-- The lookups before the company is known.

CREATE FUNCTION user_for_sign_in(p_email text)
  RETURNS TABLE (user_id uuid, company_id uuid, email text, name text, password_hash text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT u.user_id, u.company_id, u.email, u.name, u.password_hash
    FROM public.users u WHERE lower(u.email) = lower(p_email)
$$;

CREATE FUNCTION user_of_session(p_token_hash text)
  RETURNS TABLE (user_id uuid, company_id uuid, email text, name text, company_name text, csrf_token text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT u.user_id, u.company_id, u.email, u.name, c.name, s.csrf_token
    FROM public.user_sessions s
    JOIN public.users u ON u.user_id = s.user_id AND u.company_id = s.company_id
    JOIN public.companies c ON c.id = u.company_id
   WHERE s.token_hash = p_token_hash AND s.expires_at > now()
$$;

CREATE FUNCTION company_of_api_key(p_key_hash text)
  RETURNS uuid
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE public.api_keys SET last_used_at = now()
   WHERE key_hash = p_key_hash AND revoked_at IS NULL
  RETURNING company_id
$$;

CREATE FUNCTION learner_of_link(p_token_hash text)
  RETURNS TABLE (company_id uuid, employee_id uuid, name text, company_name text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT l.company_id, l.employee_id, e.full_name, c.name
    FROM public.learner_links l
    JOIN public.employees e ON e.id = l.employee_id AND e.company_id = l.company_id AND e.is_active
    JOIN public.companies c ON c.id = l.company_id
   WHERE l.token_hash = p_token_hash AND l.revoked_at IS NULL AND l.expires_at > now()
$$;

-- Whether a job request's event id (an API idempotency key) is taken by another company than the
-- current transaction's: a yes or no, never whose.
CREATE FUNCTION job_request_key_taken_elsewhere(p_event_id uuid)
  RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (
    SELECT FROM public.gateway_job_requests g
     WHERE g.event_id = p_event_id
       AND g.company_id IS DISTINCT FROM nullif(current_setting('coursegen.company_id', true), '')::uuid)
$$;

REVOKE ALL ON FUNCTION user_for_sign_in(text), user_of_session(text), company_of_api_key(text),
  learner_of_link(text), job_request_key_taken_elsewhere(uuid) FROM PUBLIC;

-- The gateway's role: rows (under the policies above), and the lookups; not the migrations' record
-- nor the refused messages.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['coursegen_app', 'coursegen_gateway'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      RAISE NOTICE 'no role %: grants skipped', r;
      CONTINUE;
    END IF;
    EXECUTE format('GRANT EXECUTE ON FUNCTION user_for_sign_in(text), user_of_session(text), '
                   'company_of_api_key(text), learner_of_link(text), job_request_key_taken_elsewhere(uuid) TO %I', r);
  END LOOP;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coursegen_gateway') THEN
    RETURN;
  END IF;
  GRANT USAGE ON SCHEMA public TO coursegen_gateway;
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO coursegen_gateway;
  GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO coursegen_gateway;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO coursegen_gateway;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO coursegen_gateway;
  REVOKE ALL ON rejected_messages FROM coursegen_gateway;
  IF to_regclass('public.schema_migrations') IS NOT NULL THEN
    REVOKE ALL ON schema_migrations FROM coursegen_gateway;
  END IF;
END $$;

-- migrate:down
DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT schemaname, tablename, policyname FROM pg_policies WHERE schemaname = 'public' LOOP
    EXECUTE format('DROP POLICY %I ON %I.%I', p.policyname, p.schemaname, p.tablename);
  END LOOP;
  FOR p IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relrowsecurity LOOP
    EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', p.relname);
    EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', p.relname);
  END LOOP;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'coursegen_gateway') THEN
    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM coursegen_gateway;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM coursegen_gateway;
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM coursegen_gateway;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM coursegen_gateway;
  END IF;
END $$;
DROP FUNCTION IF EXISTS user_for_sign_in(text);
DROP FUNCTION IF EXISTS user_of_session(text);
DROP FUNCTION IF EXISTS company_of_api_key(text);
DROP FUNCTION IF EXISTS learner_of_link(text);
DROP FUNCTION IF EXISTS job_request_key_taken_elsewhere(uuid);
