-- danescan schema, migration 9: reports that scale to 10 million domains a
-- scan (issue 17). Two parts:
--
-- 1. Indexes the report and diff plans need. Partitions are per scan, so an
--    index on (host) of a partitioned table is a per-scan (scan_id, host)
--    index once the planner has pruned to one partition: probes and
--    tlsa_records had none, and every "the probes of this host" read a whole
--    probes partition (host_failures, diff_hosts, algorithm_coverage).
--
-- 2. Per-scan summaries, computed once and reused by `report`, `trend` and
--    `diff` instead of aggregating the raw rows for every table:
--      scan_domain_counts    domains by (tld, status, mx_dnssec, with mail,
--                            any secure MX host, any MX host with TLSA): the
--                            headline, funnel, domain statuses, TLD table,
--                            trend and scan_info are sums over it;
--      scan_provider_counts  per provider (last two labels of the MX host):
--                            domains, with TLSA, dane-valid; only the rows a
--                            report can show (every provider with TLSA or
--                            dane-valid domains, and the 100 serving the
--                            most domains), not the long tail of
--                            self-hosted domains;
--      scan_probe_failures   the probe_failures report table (its example
--                            domains need every link of a group's hosts);
--      scan_summaries        one row per summarised scan, with the source
--                            key it was computed from (runs, ended_at,
--                            domains, committed batches): a summary whose key
--                            no longer matches the scan (resumed, still
--                            running, rows added) is stale and not used.
--    danescan_summarize_scan(id) computes them (at scan completion, and by
--    `danescan report`/`diff` when missing or stale); danescan_domain_counts
--    (id) and danescan_provider_counts(id) return the summary when it is
--    fresh and otherwise compute the same rows from the raw tables (likewise
--    danescan_probe_failures(id)), so the reports/ files give the same
--    answer either way (also in psql, also for
--    the read-only role). The summaries reference scans (ON DELETE CASCADE):
--    danescan_drop_scan drops them with the scan. The research views keep
--    reading the raw rows.

CREATE INDEX probes_host_idx ON probes (host);
CREATE INDEX tlsa_records_host_idx ON tlsa_records (host);

CREATE TABLE scan_summaries (
  scan_id      text PRIMARY KEY REFERENCES scans (id) ON DELETE CASCADE,
  source_key   text NOT NULL,               -- danescan_scan_source_key() when computed
  computed_at  timestamptz NOT NULL DEFAULT now(),
  compute_ms   integer NOT NULL             -- time the summary took
);

CREATE TABLE scan_domain_counts (
  scan_id          text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  tld              text,                    -- NULL: invalid-name
  status           domain_status NOT NULL,
  mx_dnssec        dnssec_state,
  with_mail        boolean NOT NULL,        -- mx_count > 0
  any_secure_host  boolean NOT NULL,        -- an MX host with secure addresses (domain_summary)
  any_tlsa         boolean NOT NULL,        -- an MX host with secure, non-empty TLSA (domain_summary)
  domains          bigint NOT NULL
);
CREATE INDEX scan_domain_counts_scan_idx ON scan_domain_counts (scan_id);

CREATE TABLE scan_provider_counts (
  scan_id             text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  provider            text NOT NULL,
  domains             bigint NOT NULL,      -- domains with an MX host of the provider
  domains_with_tlsa   bigint NOT NULL,      -- ... through a host of it with secure TLSA
  dane_valid_domains  bigint NOT NULL,      -- ... whose status is dane-valid
  PRIMARY KEY (scan_id, provider)
);

-- The probe_failures report table (reports/probe_failures.sql), whose
-- example domains need every link of the hosts of a group: computed once.
CREATE TABLE scan_probe_failures (
  scan_id          text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  result           probe_result NOT NULL,
  applies          text NOT NULL,           -- 'DANE host' or 'not applicable'
  addresses        bigint NOT NULL,
  hosts            bigint NOT NULL,
  domains          bigint NOT NULL,
  example_domains  text
);
CREATE INDEX scan_probe_failures_scan_idx ON scan_probe_failures (scan_id);

-- What a summary was computed from: it is fresh while this is unchanged.
-- Cheap (the scans row and the scan's scan_batches rows, by primary key).
CREATE FUNCTION danescan_scan_source_key(scan text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT concat_ws('/', s.runs, s.ended_at, s.domains,
                   (SELECT count(*) || ':' || coalesce(max(b.committed_at)::text, '')
                      FROM scan_batches b WHERE b.scan_id = s.id))
    FROM scans s WHERE s.id = scan
$$;

CREATE FUNCTION danescan_scan_summary_fresh(scan text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM scan_summaries m
                  WHERE m.scan_id = scan AND m.source_key = danescan_scan_source_key(scan))
$$;

-- The raw computations, as text with the scan id as a literal (%L) so the
-- planner prunes every partition but the scan's at plan time. One pass over
-- the scan's domains, domain_mx and mx_hosts each.
CREATE FUNCTION danescan_domain_counts_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    SELECT d.tld, d.status, d.mx_dnssec, d.mx_count > 0,
           coalesce(x.any_secure_host, false), coalesce(x.any_tlsa, false), count(*)
      FROM domains d
      LEFT JOIN (SELECT m.seq,
                        bool_or(h.address_dnssec = 'secure') AS any_secure_host,
                        bool_or(h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0) AS any_tlsa
                   FROM domain_mx m
                   JOIN mx_hosts h ON h.scan_id = %1$L AND h.host = m.host
                  WHERE m.scan_id = %1$L
                  GROUP BY m.seq) x ON x.seq = d.seq
     WHERE d.scan_id = %1$L
     GROUP BY 1, 2, 3, 4, 5, 6$q$, scan)
$$;

-- Providers: each (provider, domain) pair once, then counted; kept are the
-- providers with TLSA or dane-valid domains and the 100 serving the most
-- domains (providers_all shows 20, providers_dane only providers with
-- dane-valid domains).
CREATE FUNCTION danescan_provider_counts_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    WITH links AS (
      SELECT coalesce(substring(m.host FROM '([^.]+\.[^.]+)$'), m.host) AS provider, m.seq,
             bool_or(h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0) AS host_tlsa
        FROM domain_mx m
        JOIN mx_hosts h ON h.scan_id = %1$L AND h.host = m.host
       WHERE m.scan_id = %1$L
       GROUP BY 1, 2
    ), per AS (
      SELECT l.provider, count(*) AS domains,
             count(*) FILTER (WHERE l.host_tlsa) AS domains_with_tlsa,
             count(*) FILTER (WHERE d.status = 'dane-valid') AS dane_valid_domains
        FROM links l
        JOIN domains d ON d.scan_id = %1$L AND d.seq = l.seq
       GROUP BY l.provider
    )
    SELECT provider, domains, domains_with_tlsa, dane_valid_domains
      FROM (SELECT per.*, row_number() OVER (ORDER BY domains DESC, provider) AS by_domains FROM per) r
     WHERE by_domains <= 100 OR domains_with_tlsa > 0 OR dane_valid_domains > 0$q$, scan)
$$;

-- Per-address results other than authenticated, by result and whether DANE
-- applies to the host, with the addresses, hosts and domains concerned and
-- three example domains (the first alphabetically). One pass over the
-- scan's probes and mx_hosts, one hash join with its domain_mx.
CREATE FUNCTION danescan_probe_failures_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    WITH p AS (
      SELECT p.result, p.host, p.address,
             CASE WHEN h.status IN ('dane-valid', 'dane-failed', 'dane-unreachable') THEN 'DANE host'
                  ELSE 'not applicable' END AS applies
        FROM probes p
        JOIN mx_hosts h ON h.scan_id = %1$L AND h.host = p.host
       WHERE p.scan_id = %1$L AND p.result <> 'authenticated'
    ), groups AS (
      SELECT result, applies, count(DISTINCT (host, address)) AS addresses, count(DISTINCT host) AS hosts
        FROM p
       GROUP BY result, applies
    ), links AS (
      SELECT DISTINCT g.result, g.applies, m.seq, m.domain
        FROM (SELECT DISTINCT result, applies, host FROM p) g
        JOIN domain_mx m ON m.scan_id = %1$L AND m.host = g.host
    ), served AS (
      SELECT result, applies, count(*) AS domains FROM links GROUP BY result, applies
    ), first1 AS (
      -- The first three domains of a group, alphabetically: three min()
      -- passes instead of sorting every link (one text comparison per link).
      SELECT result, applies, min(domain) AS d1 FROM links GROUP BY result, applies
    ), first2 AS (
      SELECT l.result, l.applies, min(l.domain) AS d2
        FROM links l JOIN first1 f ON f.result = l.result AND f.applies = l.applies AND l.domain > f.d1
       GROUP BY l.result, l.applies
    ), first3 AS (
      SELECT l.result, l.applies, min(l.domain) AS d3
        FROM links l JOIN first2 f ON f.result = l.result AND f.applies = l.applies AND l.domain > f.d2
       GROUP BY l.result, l.applies
    ), examples AS (
      SELECT f1.result, f1.applies, concat_ws(', ', f1.d1, f2.d2, f3.d3) AS example_domains
        FROM first1 f1
        LEFT JOIN first2 f2 ON f2.result = f1.result AND f2.applies = f1.applies
        LEFT JOIN first3 f3 ON f3.result = f1.result AND f3.applies = f1.applies
    )
    SELECT g.result, g.applies, g.addresses, g.hosts, coalesce(s.domains, 0), e.example_domains
      FROM groups g
      LEFT JOIN served s ON s.result = g.result AND s.applies = g.applies
      LEFT JOIN examples e ON e.result = g.result AND e.applies = g.applies$q$, scan)
$$;

CREATE FUNCTION danescan_probe_failures(scan text)
RETURNS TABLE (result probe_result, applies text, addresses bigint, hosts bigint, domains bigint,
               example_domains text)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF scan IS NULL THEN
    RETURN;
  ELSIF danescan_scan_summary_fresh(scan) THEN
    RETURN QUERY SELECT c.result, c.applies, c.addresses, c.hosts, c.domains, c.example_domains
                   FROM scan_probe_failures c WHERE c.scan_id = scan;
  ELSE
    RETURN QUERY EXECUTE danescan_probe_failures_sql(scan);
  END IF;
END
$$;

-- Domains of a scan by (tld, status, mx_dnssec, with_mail, any_secure_host,
-- any_tlsa): the summary when fresh, else computed from the raw rows.
CREATE FUNCTION danescan_domain_counts(scan text)
RETURNS TABLE (tld text, status domain_status, mx_dnssec dnssec_state, with_mail boolean, any_secure_host boolean,
               any_tlsa boolean, domains bigint)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF scan IS NULL THEN
    RETURN;
  ELSIF danescan_scan_summary_fresh(scan) THEN
    RETURN QUERY SELECT c.tld, c.status, c.mx_dnssec, c.with_mail, c.any_secure_host, c.any_tlsa, c.domains
                   FROM scan_domain_counts c WHERE c.scan_id = scan;
  ELSE
    RETURN QUERY EXECUTE danescan_domain_counts_sql(scan);
  END IF;
END
$$;

CREATE FUNCTION danescan_provider_counts(scan text)
RETURNS TABLE (provider text, domains bigint, domains_with_tlsa bigint, dane_valid_domains bigint)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF scan IS NULL THEN
    RETURN;
  ELSIF danescan_scan_summary_fresh(scan) THEN
    RETURN QUERY SELECT c.provider, c.domains, c.domains_with_tlsa, c.dane_valid_domains
                   FROM scan_provider_counts c WHERE c.scan_id = scan;
  ELSE
    RETURN QUERY EXECUTE danescan_provider_counts_sql(scan);
  END IF;
END
$$;

-- (Re)computes a scan's summaries; a no-op when they are fresh unless
-- force. Returns true when it computed them. SECURITY DEFINER: the
-- read-only role may have `danescan report` fill a missing summary (in a
-- READ WRITE transaction of its own), never write anything else.
CREATE FUNCTION danescan_summarize_scan(scan text, force boolean DEFAULT false) RETURNS boolean
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
  DELETE FROM scan_summaries WHERE scan_id = scan;
  EXECUTE 'INSERT INTO scan_domain_counts (tld, status, mx_dnssec, with_mail, any_secure_host, any_tlsa, domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_domain_counts_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_provider_counts (provider, domains, domains_with_tlsa, dane_valid_domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_provider_counts_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_probe_failures (result, applies, addresses, hosts, domains, example_domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_probe_failures_sql(scan) || ') q';
  INSERT INTO scan_summaries (scan_id, source_key, compute_ms)
  VALUES (scan, key, (extract(epoch FROM clock_timestamp() - t0) * 1000)::integer);
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) TO danescan_reader;

-- The researcher views that count a whole scan's domains read the summary
-- (when fresh, else the same sums from the raw rows): same columns, same
-- rows, and `WHERE scan_id = ...` reads one scan's summary instead of
-- aggregating every domain of every scan.
CREATE OR REPLACE VIEW scan_funnel AS
SELECT s.id AS scan_id,
       sum(c.domains)::bigint AS domains,
       coalesce(sum(c.domains) FILTER (WHERE c.with_mail), 0)::bigint AS with_mx,
       coalesce(sum(c.domains) FILTER (WHERE c.mx_dnssec = 'secure'), 0)::bigint AS signed,
       coalesce(sum(c.domains) FILTER (WHERE c.mx_dnssec = 'secure' AND c.any_secure_host), 0)::bigint AS secure_mx,
       coalesce(sum(c.domains) FILTER (WHERE c.any_tlsa), 0)::bigint AS with_tlsa,
       coalesce(sum(c.domains) FILTER (WHERE c.any_tlsa AND c.mx_dnssec = 'secure'), 0)::bigint AS with_tlsa_secure_mx,
       coalesce(sum(c.domains) FILTER (WHERE c.status = 'dane-valid'), 0)::bigint AS dane_valid,
       coalesce(sum(c.domains) FILTER (WHERE c.status = 'dane-valid' AND c.mx_dnssec = 'secure'), 0)::bigint
         AS dane_valid_secure_mx,
       coalesce(sum(c.domains) FILTER (WHERE c.status = 'dane-partial'), 0)::bigint AS dane_partial,
       coalesce(sum(c.domains) FILTER (WHERE c.status = 'dane-failed'), 0)::bigint AS dane_failed,
       coalesce(sum(c.domains) FILTER (WHERE c.status = 'dane-unprobed'), 0)::bigint AS dane_unprobed
  FROM scans s
 CROSS JOIN LATERAL danescan_domain_counts(s.id) c
 GROUP BY s.id;

CREATE OR REPLACE VIEW adoption_by_tld AS
SELECT s.id AS scan_id, c.tld,
       sum(c.domains)::bigint AS domains,
       coalesce(sum(c.domains) FILTER (WHERE c.with_mail), 0)::bigint AS with_mx,
       coalesce(sum(c.domains) FILTER (WHERE c.mx_dnssec = 'secure'), 0)::bigint AS signed,
       coalesce(sum(c.domains) FILTER (WHERE c.any_tlsa), 0)::bigint AS with_tlsa,
       coalesce(sum(c.domains) FILTER (WHERE c.status = 'dane-valid'), 0)::bigint AS dane_valid,
       coalesce(sum(c.domains) FILTER (WHERE c.status = 'dane-partial'), 0)::bigint AS dane_partial,
       coalesce(sum(c.domains) FILTER (WHERE c.status IN ('dane-failed', 'dane-unreachable')), 0)::bigint
         AS dane_failed_or_unreachable,
       round(100.0 * coalesce(sum(c.domains) FILTER (WHERE c.any_tlsa), 0)
             / nullif(sum(c.domains) FILTER (WHERE c.with_mail), 0), 2) AS pct_with_tlsa_of_with_mx
  FROM scans s
 CROSS JOIN LATERAL danescan_domain_counts(s.id) c
 WHERE c.tld IS NOT NULL
 GROUP BY s.id, c.tld;

-- Domains per status per scan, likewise.
CREATE OR REPLACE VIEW scan_status_counts AS
SELECT s.id AS scan_id, c.status, sum(c.domains)::bigint AS domains
  FROM scans s
 CROSS JOIN LATERAL danescan_domain_counts(s.id) c
 GROUP BY s.id, c.status;
