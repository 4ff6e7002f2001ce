-- Foundation: the service role. The service connects as custos_app, which owns no table and
-- has no BYPASSRLS, so row-level security (FORCE'd on every tenant table) always applies to it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'custos_app') THEN
        CREATE ROLE custos_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO custos_app;
GRANT SELECT ON schema_migrations TO custos_app;
