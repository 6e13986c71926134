-- danescan schema, migration 3: the researchers' read-only role. It may log
-- in (local trust or a password the administrator sets), read every table and
-- view, and write nothing: no INSERT/UPDATE/DELETE/TRUNCATE grants, no CREATE
-- in the schema, no temporary tables, and read-only transactions by default.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'danescan_reader') THEN
    CREATE ROLE danescan_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
END
$$;
ALTER ROLE danescan_reader SET default_transaction_read_only = on;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO danescan_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO danescan_reader;
-- Tables and partitions created later by the writer's role are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO danescan_reader;
REVOKE EXECUTE ON FUNCTION danescan_create_scan_partitions(text), danescan_drop_scan(text) FROM PUBLIC;
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), current_user);
END
$$;
