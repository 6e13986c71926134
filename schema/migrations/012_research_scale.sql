-- danescan schema, migration 12: the researcher queries of schema/README.md
-- at 10 million domains a scan (issue 17).
--
-- 1. mx_providers per scan is a summary, computed once with the others of
--    migration 009 (danescan_summarize_scan: at scan completion, or by the
--    first report): scan_mx_providers holds every provider's row (the long
--    tail too: a self-hosted domain is a provider of its own, so about a
--    third of the domains with MX each have a row). The view reads it
--    through danescan_mx_providers(id), which returns the summary when it is
--    fresh and otherwise computes the same rows from the raw rows (the
--    view's old query for the one scan). Same columns and rows as before.
--    The summaries computed before this migration have no provider rows:
--    they are forgotten (as migration 011 did), so the next report or
--    danescan_summarize_scan computes them again.

CREATE TABLE scan_mx_providers (
  scan_id            text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  provider           text NOT NULL,
  hosts              bigint NOT NULL,
  domains            bigint NOT NULL,
  dane_valid_hosts   bigint NOT NULL,
  dane_failed_hosts  bigint NOT NULL,
  hosts_with_tlsa    bigint NOT NULL,
  domains_with_tlsa  bigint NOT NULL,
  PRIMARY KEY (scan_id, provider)
);

-- The rows of mx_providers for one scan from the raw rows: migration 010's
-- view with the scan id as a literal (one hash join of the scan's domain_mx
-- and mx_hosts, one sort by provider). A rewrite with hash aggregates per
-- (provider, domain) and per (provider, host) was 3 times slower at 200k
-- domains a scan.
CREATE FUNCTION danescan_mx_providers_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    SELECT danescan_host_provider(h.host, h.provider) AS provider,
           count(DISTINCT m.host) AS hosts,
           count(DISTINCT m.seq) AS domains,
           count(DISTINCT m.host) FILTER (WHERE h.status = 'dane-valid') AS dane_valid_hosts,
           count(DISTINCT m.host) FILTER (WHERE h.status IN ('dane-failed', 'tlsa-failed')) AS dane_failed_hosts,
           count(DISTINCT m.host) FILTER (WHERE h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0) AS hosts_with_tlsa,
           count(DISTINCT m.seq) FILTER (WHERE h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0) AS domains_with_tlsa
      FROM domain_mx m
      JOIN mx_hosts h ON h.scan_id = %1$L AND h.host = m.host
     WHERE m.scan_id = %1$L AND danescan_host_provider(h.host, h.provider) IS NOT NULL
     GROUP BY 1$q$, scan)
$$;

CREATE FUNCTION danescan_mx_providers(scan text)
RETURNS TABLE (provider text, hosts bigint, domains bigint, dane_valid_hosts bigint, dane_failed_hosts bigint,
               hosts_with_tlsa bigint, domains_with_tlsa bigint)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF scan IS NULL THEN
    RETURN;
  ELSIF danescan_scan_summary_fresh(scan) THEN
    RETURN QUERY SELECT c.provider, c.hosts, c.domains, c.dane_valid_hosts, c.dane_failed_hosts, c.hosts_with_tlsa,
                        c.domains_with_tlsa
                   FROM scan_mx_providers c WHERE c.scan_id = scan;
  ELSE
    RETURN QUERY EXECUTE danescan_mx_providers_sql(scan);
  END IF;
END
$$;

-- Same columns as in migrations 002 and 010.
CREATE OR REPLACE VIEW mx_providers AS
SELECT s.id AS scan_id, p.provider, p.hosts, p.domains, p.dane_valid_hosts, p.dane_failed_hosts,
       p.hosts_with_tlsa, p.domains_with_tlsa
  FROM scans s
 CROSS JOIN LATERAL danescan_mx_providers(s.id) p;

-- Migration 009's summariser, with the provider rows.
CREATE OR REPLACE FUNCTION danescan_summarize_scan(scan text, force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
DECLARE
  key text;
  t0 timestamptz := clock_timestamp();
BEGIN
  -- One summariser per scan at a time (two reports starting together).
  PERFORM pg_advisory_xact_lock(hashtext('danescan_summarize_scan'), hashtext(scan));
  key := danescan_scan_source_key(scan);
  IF key IS NULL THEN
    RETURN false; -- no such scan
  END IF;
  IF NOT force AND EXISTS (SELECT 1 FROM scan_summaries m WHERE m.scan_id = scan AND m.source_key = key) THEN
    RETURN false;
  END IF;
  DELETE FROM scan_domain_counts WHERE scan_id = scan;
  DELETE FROM scan_provider_counts WHERE scan_id = scan;
  DELETE FROM scan_probe_failures WHERE scan_id = scan;
  DELETE FROM scan_mx_providers WHERE scan_id = scan;
  DELETE FROM scan_summaries WHERE scan_id = scan;
  EXECUTE 'INSERT INTO scan_domain_counts (tld, status, mx_dnssec, with_mail, any_secure_host, any_tlsa, domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_domain_counts_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_provider_counts (provider, domains, domains_with_tlsa, dane_valid_domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_provider_counts_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_probe_failures (result, applies, addresses, hosts, domains, example_domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_probe_failures_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_mx_providers (provider, hosts, domains, dane_valid_hosts, dane_failed_hosts, '
          || 'hosts_with_tlsa, domains_with_tlsa, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_mx_providers_sql(scan) || ') q';
  INSERT INTO scan_summaries (scan_id, source_key, compute_ms)
  VALUES (scan, key, (extract(epoch FROM clock_timestamp() - t0) * 1000)::integer);
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) TO danescan_reader;

DELETE FROM scan_summaries;

GRANT SELECT ON scan_mx_providers, mx_providers TO danescan_reader;

-- 2. A scan's series: the scans of its input set (scan_input_sets: the same
--    input file digests; a scan without recorded inputs is a series of its
--    own) started no later than it, the last 100, with their position oldest
--    first. reports/trend.sql and reports/time_to_fix.sql and the report's
--    summary step (report_sql.c) each spelled this out; they read it here.
CREATE FUNCTION danescan_scan_series(scan text)
RETURNS TABLE (scan_id text, started_at timestamptz, "position" bigint)
LANGUAGE sql STABLE AS $$
  SELECT l.scan_id, l.started_at, row_number() OVER (ORDER BY l.started_at, l.scan_id)
    FROM (SELECT i.scan_id, i.started_at
            FROM scan_input_sets i
            JOIN scan_input_sets me ON me.scan_id = scan AND i.input_set = me.input_set
           WHERE i.started_at <= me.started_at
           ORDER BY i.started_at DESC, i.scan_id DESC
           LIMIT 100) l
   ORDER BY l.started_at, l.scan_id
$$;
GRANT EXECUTE ON FUNCTION danescan_scan_series(text) TO danescan_reader;

-- 3. The longitudinal views of migration 010 at scale.
--    scan_input_sets computed its jsonb digest list once per joined row
--    (the planner pulls the view up into the join, so a join with 10M
--    domains ran the aggregate 10M times): OFFSET 0 keeps it a subquery
--    evaluated once per scan. Same columns and rows.
CREATE OR REPLACE VIEW scan_input_sets AS
SELECT s.id AS scan_id, s.started_at,
       coalesce((SELECT jsonb_agg(e->'sha256' ORDER BY e->>'sha256') FROM jsonb_array_elements(s.inputs) e)::text,
                'scan:' || s.id) AS input_set
  FROM scans s
OFFSET 0;

--    domain_failure_episodes found each episode's end with a subquery over
--    every row of every domain's history (quadratic: 200 s at 200k domains
--    in two scans). Now: the history of only the domains that fail at least
--    once in the input set (each domain's episodes depend on its own
--    history alone, so the rows are the same), read through the status
--    index and the (domain) index, and the end of each run from a window
--    (the next non-failing row of the domain), no self-join. Same columns
--    and rows.
CREATE OR REPLACE VIEW domain_failure_episodes AS
WITH sets AS MATERIALIZED (
  SELECT scan_id, started_at, input_set FROM scan_input_sets
), failing_domains AS (
  SELECT DISTINCT i.input_set, d.domain
    FROM domains d
    JOIN sets i ON i.scan_id = d.scan_id
   WHERE d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')
), history AS (
  SELECT i.input_set, d.domain, d.scan_id, d.seq, i.started_at, d.status,
         d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable') AS failing
    FROM failing_domains f
    JOIN domains d ON d.domain = f.domain
    JOIN sets i ON i.scan_id = d.scan_id AND i.input_set = f.input_set
), marked AS (
  -- per row: whether the row before was failing, and the first non-failing
  -- row after it (its scan, start and status; the frame lists the rows
  -- after this one in order, so [1] is the nearest)
  SELECT h.*,
         lag(h.failing) OVER w AS was_failing,
         (array_agg(h.scan_id) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_scan_id,
         (array_agg(h.started_at) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_started_at,
         (array_agg(h.status) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_status
    FROM history h
  WINDOW w AS (PARTITION BY h.input_set, h.domain ORDER BY h.started_at, h.scan_id),
         after AS (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
), episodes AS (
  SELECT m.input_set, m.domain, m.scan_id AS failed_scan_id, m.seq AS failed_seq, m.started_at AS failed_at,
         m.status AS failed_status, m.end_scan_id, m.end_started_at, m.end_status
    FROM marked m
   WHERE m.failing AND m.was_failing IS NOT TRUE
)
SELECT ep.input_set, ep.domain, ep.failed_scan_id, ep.failed_at, ep.failed_status,
       ep.end_scan_id, ep.end_started_at AS ended_at, ep.end_status,
       CASE WHEN ep.end_scan_id IS NULL THEN 'open'
            WHEN ep.end_status IN ('dane-valid', 'dane-partial') THEN 'fixed'
            ELSE 'left' END AS end_kind,
       ep.end_started_at - ep.failed_at AS duration,
       (SELECT array_agg(DISTINCT danescan_host_provider(h.host, h.provider) ORDER BY danescan_host_provider(h.host, h.provider))
          FROM domain_mx m
          JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
         WHERE m.scan_id = ep.failed_scan_id AND m.seq = ep.failed_seq
           AND h.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed')
           AND danescan_host_provider(h.host, h.provider) IS NOT NULL) AS providers
  FROM episodes ep;

--    domain_dane_seen aggregated every row of every scan even when asked
--    only for the domains that were dane-valid in some scan (its
--    documented query). Now two parts: the domains with a dane-valid row
--    in the input set (found through the status index, their histories
--    through the (domain) index), and the others (every row, as before),
--    whose dane_valid_scans is the constant 0, so that a condition such as
--    dane_valid_scans > 0 lets the planner skip that part. Same columns and
--    rows.
CREATE OR REPLACE VIEW domain_dane_seen AS
WITH sets AS MATERIALIZED (
  SELECT scan_id, started_at, input_set FROM scan_input_sets
), valid_domains AS (
  SELECT DISTINCT i.input_set, d.domain
    FROM domains d
    JOIN sets i ON i.scan_id = d.scan_id
   WHERE d.status = 'dane-valid'
)
SELECT i.input_set, d.domain,
       count(*) AS scans,
       count(*) FILTER (WHERE d.status = 'dane-valid') AS dane_valid_scans,
       (array_agg(d.scan_id ORDER BY i.started_at, d.scan_id) FILTER (WHERE d.status = 'dane-valid'))[1]
         AS first_dane_valid_scan,
       min(i.started_at) FILTER (WHERE d.status = 'dane-valid') AS first_dane_valid_at,
       (array_agg(d.scan_id ORDER BY i.started_at DESC, d.scan_id DESC) FILTER (WHERE d.status = 'dane-valid'))[1]
         AS last_dane_valid_scan,
       max(i.started_at) FILTER (WHERE d.status = 'dane-valid') AS last_dane_valid_at,
       (array_agg(d.status ORDER BY i.started_at DESC, d.scan_id DESC))[1] AS latest_status
  FROM valid_domains v
  JOIN domains d ON d.domain = v.domain
  JOIN sets i ON i.scan_id = d.scan_id AND i.input_set = v.input_set
 GROUP BY i.input_set, d.domain
UNION ALL
SELECT input_set, domain, scans, 0::bigint, NULL::text, NULL::timestamptz, NULL::text, NULL::timestamptz, latest_status
  FROM (SELECT i.input_set, d.domain, count(*) AS scans,
               count(*) FILTER (WHERE d.status = 'dane-valid') AS valid,
               (array_agg(d.status ORDER BY i.started_at DESC, d.scan_id DESC))[1] AS latest_status
          FROM domains d
          JOIN scan_input_sets i ON i.scan_id = d.scan_id
         GROUP BY i.input_set, d.domain) never
 WHERE valid = 0;
