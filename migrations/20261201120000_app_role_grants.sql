-- The app role (what services connect as) reads and writes rows, never the schema.
-- Roles are cluster-wide, so they are made outside migrations: by the embedded stack,
-- or in production by the operator (deploy/README.md). Without the role this is a no-op.
-- Run as the owner role: ALTER DEFAULT PRIVILEGES covers the tables later migrations create.

-- migrate:up
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coursegen_app') THEN
    RAISE NOTICE 'no role coursegen_app: grants skipped';
    RETURN;
  END IF;
  GRANT USAGE ON SCHEMA public TO coursegen_app;
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO coursegen_app;
  GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO coursegen_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO coursegen_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO coursegen_app;
  -- The migrations' own record is read-only to the app.
  IF to_regclass('public.schema_migrations') IS NOT NULL THEN
    REVOKE ALL ON schema_migrations FROM coursegen_app;
    GRANT SELECT ON schema_migrations TO coursegen_app;
  END IF;
END $$;

-- migrate:down
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coursegen_app') THEN
    RETURN;
  END IF;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM coursegen_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM coursegen_app;
  REVOKE ALL ON ALL TABLES IN SCHEMA public FROM coursegen_app;
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM coursegen_app;
END $$;
