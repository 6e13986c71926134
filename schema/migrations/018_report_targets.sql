-- danescan schema, migration 18: issue 17's targets at 10 million domains a
-- scan (report and diff under a minute, the researcher queries under 10 s,
-- db drop under 5 s). Three parts.
--
-- 1. A scan's partitions are created without the lock that queued behind
--    every reader. CREATE TABLE ... PARTITION OF takes an ACCESS EXCLUSIVE
--    lock on the parent, which waits for every open reader of it (a
--    summary of the previous 10M-domain scan runs for minutes) and, while
--    waiting, blocks every new reader. The partition is now created as a
--    table of its own and attached: ATTACH PARTITION takes SHARE UPDATE
--    EXCLUSIVE on the parent, which readers do not conflict with (the new,
--    empty table is checked against the partition bound in no time).
--
-- 2. More per-scan summaries (the pattern of migration 009: computed by
--    danescan_summarize_scan at scan completion or by the first report,
--    fresh while danescan_scan_source_key is unchanged, read through a
--    function that falls back to the same rows from the raw rows):
--      scan_published_metrics   numerator/denominator of each published
--                               metric (reports/published_metrics.sql)
--      scan_providers_broken    providers with broken DANE domains
--                               (reports/providers_broken.sql)
--      scan_tlsa_parameters     the tlsa_parameters view's rows
--      scan_failures_by_cause   the failures_by_cause view's rows
--    scan_mx_providers (migration 012) becomes partitioned by scan, so
--    db drop drops its rows (2.9M at 10M domains) with a DROP TABLE instead
--    of deleting them row by row.
--
-- 3. Pair summaries: what changed between two scans (the name join of two
--    scans' domains, which status_changes, dane_adoption, input_change,
--    diff_domains and domain_status_diff each did again): scan_pairs (names
--    in each scan and in both) and scan_pair_changes (the names in both
--    whose status or TLSA presence differs). Computed for a scan and the
--    scan before it in its series at completion (danescan_summarize_scan),
--    and for any other pair by `danescan report --previous` and `danescan
--    diff` (danescan_summarize_pair); fresh while both scans' source keys
--    are unchanged; read through danescan_pair_changes(new, old) and
--    danescan_pair_counts(new, old), which compute the same rows from the
--    raw rows when the pair has no fresh summary.
--
-- Every summary computed before this migration is forgotten, so the next
-- report (or danescan_summarize_scan) computes them all again.

-- 1. Partitions by ATTACH.
CREATE OR REPLACE FUNCTION danescan_create_partition(tbl text, part text, scan text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass(format('%I', part)) IS NOT NULL THEN
    RETURN;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)', part, tbl);
  -- The bound as a constraint: ATTACH then skips its check of the rows.
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (scan_id IS NOT NULL AND scan_id = %L)', part,
                 left(part, 55) || '_bound', scan);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%L)', tbl, part, scan);
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, left(part, 55) || '_bound');
END
$$;

-- The summary tables partitioned by scan (created with
-- the scan's partitions, at its start, and dropped with DROP TABLE).
CREATE OR REPLACE FUNCTION danescan_summary_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['scan_mx_providers']
$$;

CREATE OR REPLACE FUNCTION danescan_create_scan_partitions(scan text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tbl text;
BEGIN
  FOREACH tbl IN ARRAY danescan_scan_tables() || danescan_summary_tables() LOOP
    PERFORM danescan_create_partition(tbl, danescan_partition_name(tbl, scan), scan);
  END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_create_partition(text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION danescan_drop_scan(scan text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tbl text;
BEGIN
  FOREACH tbl IN ARRAY danescan_scan_tables() || danescan_summary_tables() LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I', danescan_partition_name(tbl, scan));
  END LOOP;
  DELETE FROM scans WHERE id = scan;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_drop_scan(text) FROM PUBLIC;

DROP TABLE scan_mx_providers;
-- No foreign key to scans: attaching a partition would clone it and lock
-- scans against the scan writers' updates (danescan_drop_scan drops it).
CREATE TABLE scan_mx_providers (
  scan_id            text NOT NULL,
  provider           text NOT NULL,
  hosts              bigint NOT NULL,
  domains            bigint NOT NULL,
  dane_valid_hosts   bigint NOT NULL,
  dane_failed_hosts  bigint NOT NULL,
  hosts_with_tlsa    bigint NOT NULL,
  domains_with_tlsa  bigint NOT NULL,
  PRIMARY KEY (scan_id, provider)
) PARTITION BY LIST (scan_id);

-- 2. Per-scan summaries.
CREATE TABLE scan_published_metrics (
  scan_id      text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  "position"   integer NOT NULL,          -- the metric's number in reports/published_metrics.sql
  numerator    bigint NOT NULL,
  denominator  bigint NOT NULL,
  PRIMARY KEY (scan_id, "position")
);

CREATE TABLE scan_providers_broken (
  scan_id            text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  provider           text NOT NULL,
  broken_domains     bigint NOT NULL,
  failing_hosts      bigint NOT NULL,
  domains_with_tlsa  bigint NOT NULL,
  PRIMARY KEY (scan_id, provider)
);

CREATE TABLE scan_tlsa_parameters (
  scan_id         text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  usage           smallint,
  selector        smallint,
  matching_type   smallint,
  records         bigint NOT NULL,
  usable_records  bigint NOT NULL,
  hosts           bigint NOT NULL
);
CREATE INDEX scan_tlsa_parameters_scan_idx ON scan_tlsa_parameters (scan_id);

CREATE TABLE scan_failures_by_cause (
  scan_id  text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  level    text NOT NULL,
  status   text NOT NULL,
  cause    text,
  count    bigint NOT NULL
);
CREATE INDEX scan_failures_by_cause_scan_idx ON scan_failures_by_cause (scan_id);

-- published_metrics.sql's four metrics for one scan: (position, numerator,
-- denominator), a row only where the metric has a denominator row (as the
-- file's CTEs give them). Same text as the file, the scan id a literal.
CREATE FUNCTION danescan_published_metrics_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    WITH unreachable AS (
      SELECT p.host
        FROM probes p
       WHERE p.scan_id = %1$L
       GROUP BY p.host
      HAVING bool_and(p.result IN ('connect-failed', 'timeout', 'smtp-failed'))
    ), links AS (
      SELECT m.seq, m.preference, h.status,
             h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0 AS has_tlsa,
             h.status NOT IN ('dane-unreachable', 'no-address') AND u.host IS NULL AS accepts,
             m.preference = min(m.preference) OVER (PARTITION BY m.seq) AS is_primary
        FROM domain_mx m
        JOIN mx_hosts h ON h.scan_id = %1$L AND h.host = m.host
        LEFT JOIN unreachable u ON u.host = m.host
       WHERE m.scan_id = %1$L
    ), per_domain AS (
      SELECT seq,
             count(*) FILTER (WHERE is_primary AND accepts) AS primaries_accepting,
             coalesce(bool_and(status = 'dane-valid') FILTER (WHERE is_primary AND accepts), false) AS primaries_valid,
             bool_or(has_tlsa) AS some_tlsa,
             bool_or(status IN ('no-tlsa', 'insecure')) AS some_without_tlsa
        FROM links
       GROUP BY seq
    ), survey AS (
      SELECT count(*) FILTER (WHERE pd.primaries_accepting > 0 AND pd.primaries_valid) AS numerator,
             count(*) AS denominator
        FROM domains d
        LEFT JOIN per_domain pd ON pd.seq = d.seq
       WHERE d.scan_id = %1$L
         AND d.mx_dnssec = 'secure' AND d.mx_count > 0 AND d.implicit_mx IS NOT TRUE AND d.status <> 'null-mx'
      HAVING count(*) > 0
    ), partial AS (
      SELECT count(*) FILTER (WHERE some_without_tlsa) AS numerator, count(*) AS denominator
        FROM per_domain
       WHERE some_tlsa
      HAVING count(*) > 0
    ), rrsets AS (
      SELECT count(*) FILTER (WHERE h.tlsa_dnssec IN ('bogus', 'insecure')) AS numerator,
             count(*) AS denominator
        FROM mx_hosts h
       WHERE h.scan_id = %1$L
         AND (h.tlsa_dnssec = 'bogus' OR (h.tlsa_count > 0 AND h.tlsa_dnssec IN ('secure', 'insecure')))
      HAVING count(*) > 0
    ), served AS (
      SELECT DISTINCT c.host, c.depth, c.cert_sha256
        FROM probe_chain c
       WHERE c.scan_id = %1$L
    ), records AS (
      SELECT t.host, t.position, t.usage, t.selector, t.matching_type, t.data
        FROM tlsa_records t
        JOIN mx_hosts h ON h.scan_id = %1$L AND h.host = t.host
       WHERE t.scan_id = %1$L AND h.tlsa_dnssec = 'secure'
         AND EXISTS (SELECT 1 FROM served s WHERE s.host = t.host)
    ), matched AS (
      SELECT r.host, r.position
        FROM records r
        JOIN served s ON s.host = r.host AND (r.usage IN (0, 2) OR s.depth = 0)
        JOIN certificates k ON k.sha256 = s.cert_sha256
       WHERE (r.selector = 0 AND r.matching_type = 0 AND k.der = r.data)
          OR (r.selector = 0 AND r.matching_type = 1 AND k.sha256 = r.data)
          OR (r.selector = 0 AND r.matching_type = 2 AND sha512(k.der) = r.data)
          OR (r.selector = 1 AND r.matching_type = 1 AND k.spki_sha256 = r.data)
      UNION
      SELECT p.host, p.matched_tlsa
        FROM probes p
       WHERE p.scan_id = %1$L AND p.matched_tlsa IS NOT NULL
    ), mismatch AS (
      SELECT count(*) FILTER (WHERE m.host IS NULL) AS numerator, count(*) AS denominator
        FROM records r
        LEFT JOIN matched m ON m.host = r.host AND m.position = r.position
      HAVING count(*) > 0
    )
    SELECT 1 AS position, numerator, denominator FROM survey
    UNION ALL SELECT 2, numerator, denominator FROM rrsets
    UNION ALL SELECT 3, numerator, denominator FROM mismatch
    UNION ALL SELECT 4, numerator, denominator FROM partial$q$, scan)
$$;

-- providers_broken.sql's per-provider counts for one scan, every provider
-- with a broken domain (the file shows the first 20).
CREATE FUNCTION danescan_providers_broken_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    WITH links AS (
      SELECT m.seq, d.status AS domain_status, h.host, h.status AS host_status,
             h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0 AS host_tlsa,
             danescan_host_provider(h.host, h.provider) AS provider
        FROM domain_mx m
        JOIN domains d ON d.scan_id = %1$L AND d.seq = m.seq
        JOIN mx_hosts h ON h.scan_id = %1$L AND h.host = m.host
       WHERE m.scan_id = %1$L AND danescan_host_provider(h.host, h.provider) IS NOT NULL
    ), per AS (
      SELECT provider,
             count(DISTINCT seq) FILTER (WHERE domain_status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')
                                           AND host_status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable',
                                                               'tlsa-failed')) AS broken_domains,
             count(DISTINCT host) FILTER (WHERE host_status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable',
                                                                'tlsa-failed')) AS failing_hosts,
             count(DISTINCT seq) FILTER (WHERE host_tlsa) AS domains_with_tlsa
        FROM links
       GROUP BY provider
    )
    SELECT provider, broken_domains, failing_hosts, domains_with_tlsa FROM per WHERE broken_domains > 0$q$, scan)
$$;

-- The tlsa_parameters view (migration 002) for one scan.
CREATE FUNCTION danescan_tlsa_parameters_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    SELECT t.usage, t.selector, t.matching_type,
           count(*) AS records,
           count(*) FILTER (WHERE t.usable) AS usable_records,
           count(DISTINCT t.host) AS hosts
      FROM tlsa_records t
      JOIN mx_hosts h ON h.scan_id = %1$L AND h.host = t.host
     WHERE t.scan_id = %1$L AND h.tlsa_dnssec = 'secure'
     GROUP BY t.usage, t.selector, t.matching_type$q$, scan)
$$;

-- The failures_by_cause view (migration 002) for one scan.
CREATE FUNCTION danescan_failures_by_cause_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    SELECT 'domain'::text AS level, status::text AS status,
           CASE WHEN status = 'invalid-name' THEN invalid_reason
                WHEN status IN ('lookup-failed', 'dnssec-bogus')
                THEN coalesce(mx_failure, 'EDE ' || mx_ede_code || ': ' || mx_ede_text, mx_rcode)
           END AS cause,
           count(*) AS count
      FROM domains
     WHERE scan_id = %1$L
       AND status IN ('invalid-name', 'lookup-failed', 'dnssec-bogus', 'dane-failed', 'dane-unreachable',
                      'tlsa-unusable')
     GROUP BY 1, 2, 3
    UNION ALL
    SELECT 'mx_host', status::text,
           coalesce(tlsa_failure, 'EDE ' || tlsa_ede_code || ': ' || tlsa_ede_text, tlsa_rcode),
           count(*)
      FROM mx_hosts
     WHERE scan_id = %1$L
       AND status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed', 'address-failed',
                      'no-address')
     GROUP BY 1, 2, 3
    UNION ALL
    SELECT 'probe', result::text, reason, count(*)
      FROM probes
     WHERE scan_id = %1$L AND result <> 'authenticated'
     GROUP BY 1, 2, 3$q$, scan)
$$;

CREATE FUNCTION danescan_published_metrics(scan text)
RETURNS TABLE ("position" integer, numerator bigint, denominator bigint)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF scan IS NULL THEN
    RETURN;
  ELSIF danescan_scan_summary_fresh(scan) THEN
    RETURN QUERY SELECT c.position, c.numerator, c.denominator FROM scan_published_metrics c WHERE c.scan_id = scan;
  ELSE
    RETURN QUERY EXECUTE danescan_published_metrics_sql(scan);
  END IF;
END
$$;

CREATE FUNCTION danescan_providers_broken(scan text)
RETURNS TABLE (provider text, broken_domains bigint, failing_hosts bigint, domains_with_tlsa bigint)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF scan IS NULL THEN
    RETURN;
  ELSIF danescan_scan_summary_fresh(scan) THEN
    RETURN QUERY SELECT c.provider, c.broken_domains, c.failing_hosts, c.domains_with_tlsa
                   FROM scan_providers_broken c WHERE c.scan_id = scan;
  ELSE
    RETURN QUERY EXECUTE danescan_providers_broken_sql(scan);
  END IF;
END
$$;

CREATE FUNCTION danescan_tlsa_parameters(scan text)
RETURNS TABLE (usage smallint, selector smallint, matching_type smallint, records bigint, usable_records bigint,
               hosts bigint)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF scan IS NULL THEN
    RETURN;
  ELSIF danescan_scan_summary_fresh(scan) THEN
    RETURN QUERY SELECT c.usage, c.selector, c.matching_type, c.records, c.usable_records, c.hosts
                   FROM scan_tlsa_parameters c WHERE c.scan_id = scan;
  ELSE
    RETURN QUERY EXECUTE danescan_tlsa_parameters_sql(scan);
  END IF;
END
$$;

CREATE FUNCTION danescan_failures_by_cause(scan text)
RETURNS TABLE (level text, status text, cause text, count bigint)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF scan IS NULL THEN
    RETURN;
  ELSIF danescan_scan_summary_fresh(scan) THEN
    RETURN QUERY SELECT c.level, c.status, c.cause, c.count FROM scan_failures_by_cause c WHERE c.scan_id = scan;
  ELSE
    RETURN QUERY EXECUTE danescan_failures_by_cause_sql(scan);
  END IF;
END
$$;

-- Same columns and rows as migration 002's views.
CREATE OR REPLACE VIEW tlsa_parameters AS
SELECT s.id AS scan_id, c.usage, c.selector, c.matching_type, c.records, c.usable_records, c.hosts
  FROM scans s
 CROSS JOIN LATERAL danescan_tlsa_parameters(s.id) c;

CREATE OR REPLACE VIEW failures_by_cause AS
SELECT s.id AS scan_id, c.level, c.status, c.cause, c.count
  FROM scans s
 CROSS JOIN LATERAL danescan_failures_by_cause(s.id) c;

-- 3. Pair summaries.
CREATE TABLE scan_pairs (
  scan_id         text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,  -- the newer scan
  previous_id     text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,  -- the older scan
  source_key      text NOT NULL,     -- both scans' danescan_scan_source_key when computed
  computed_at     timestamptz NOT NULL DEFAULT now(),
  compute_ms      integer NOT NULL,
  current_names   bigint NOT NULL,   -- domains rows of scan_id
  previous_names  bigint NOT NULL,   -- domains rows of previous_id
  names_in_both   bigint NOT NULL,   -- pairs of rows with the same name
  PRIMARY KEY (scan_id, previous_id)
);
CREATE INDEX scan_pairs_previous_idx ON scan_pairs (previous_id);

CREATE TABLE scan_pair_changes (
  scan_id         text NOT NULL,
  previous_id     text NOT NULL,
  domain          text NOT NULL,
  old_seq         bigint NOT NULL,
  new_seq         bigint NOT NULL,
  old_status      domain_status NOT NULL,
  new_status      domain_status NOT NULL,
  old_tlsa        boolean NOT NULL,  -- an MX host with a secure, non-empty TLSA RRset
  new_tlsa        boolean NOT NULL,
  old_mx_dnssec   dnssec_state,
  new_mx_dnssec   dnssec_state,
  new_failure     text,              -- coalesce(mx_failure, invalid_reason, EDE) of the newer row
  host_changes    text,              -- the MX hosts whose status changed (diff_domains' reason), for a
                                     -- changed status
  FOREIGN KEY (scan_id, previous_id) REFERENCES scan_pairs (scan_id, previous_id) ON DELETE CASCADE
);
CREATE INDEX scan_pair_changes_pair_idx ON scan_pair_changes (scan_id, previous_id);

CREATE FUNCTION danescan_pair_source_key(new_scan text, old_scan text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT danescan_scan_source_key(new_scan) || ' | ' || danescan_scan_source_key(old_scan)
$$;

CREATE FUNCTION danescan_pair_fresh(new_scan text, old_scan text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM scan_pairs p
                  WHERE p.scan_id = new_scan AND p.previous_id = old_scan
                    AND p.source_key = danescan_pair_source_key(new_scan, old_scan))
$$;

-- The names in both scans whose status or TLSA presence differs: one join
-- of the two scans' domains by name; TLSA presence from the few hosts with
-- TLSA (their links by the domain_mx (host) index).
CREATE FUNCTION danescan_pair_changes_sql(new_scan text, old_scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    WITH new_tlsa AS (
      SELECT DISTINCT m.seq
        FROM mx_hosts h
        JOIN domain_mx m ON m.scan_id = %1$L AND m.host = h.host
       WHERE h.scan_id = %1$L AND h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0
    ), old_tlsa AS (
      SELECT DISTINCT m.seq
        FROM mx_hosts h
        JOIN domain_mx m ON m.scan_id = %2$L AND m.host = h.host
       WHERE h.scan_id = %2$L AND h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0
    ), pairs AS (
      SELECT x.* FROM (
        SELECT n.domain, o.seq AS old_seq, n.seq AS new_seq, o.status AS old_status, n.status AS new_status,
               ot.seq IS NOT NULL AS old_tlsa, nt.seq IS NOT NULL AS new_tlsa,
               o.mx_dnssec AS old_mx_dnssec, n.mx_dnssec AS new_mx_dnssec,
               coalesce(n.mx_failure, n.invalid_reason, 'EDE ' || n.mx_ede_code || ': ' || n.mx_ede_text) AS new_failure
          FROM domains n
          JOIN domains o ON o.domain = n.domain AND o.scan_id = %2$L
          LEFT JOIN new_tlsa nt ON nt.seq = n.seq
          LEFT JOIN old_tlsa ot ON ot.seq = o.seq
         WHERE n.scan_id = %1$L) x
       WHERE x.old_status IS DISTINCT FROM x.new_status OR x.old_tlsa <> x.new_tlsa
    ), -- the MX hosts whose status changed, for the names whose status did
       -- (reports/diff_domains.sql's reason)
    host_pairs AS (
      SELECT p.domain, hl.host,
             (SELECT h.status FROM domain_mx m JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
               WHERE m.scan_id = %2$L AND m.seq = p.old_seq AND m.host = hl.host LIMIT 1) AS old_status,
             (SELECT h.status FROM domain_mx m JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
               WHERE m.scan_id = %1$L AND m.seq = p.new_seq AND m.host = hl.host LIMIT 1) AS new_status
        FROM pairs p
       CROSS JOIN LATERAL (SELECT m.host FROM domain_mx m WHERE m.scan_id = %2$L AND m.seq = p.old_seq
                           UNION
                           SELECT m.host FROM domain_mx m WHERE m.scan_id = %1$L AND m.seq = p.new_seq) hl
       WHERE p.old_status IS DISTINCT FROM p.new_status
    ), host_changes AS (
      SELECT hp.domain,
             string_agg(hp.host || ': ' || coalesce(hp.old_status::text, 'not an MX host') || ' -> '
                        || coalesce(hp.new_status::text, 'not an MX host')
                        || coalesce(' (' || (SELECT string_agg(host(pr.address) || ' ' || pr.result::text
                                                                || coalesce(' ' || pr.reason, ''), '; '
                                                                ORDER BY pr.address, pr.probe_no)
                                               FROM probes pr
                                              WHERE pr.scan_id = %1$L AND pr.host = hp.host
                                                AND hp.new_status IS NOT NULL
                                                AND pr.result <> 'authenticated') || ')', ''),
                        '; ' ORDER BY hp.host) AS hosts
        FROM host_pairs hp
       WHERE hp.old_status IS DISTINCT FROM hp.new_status
       GROUP BY hp.domain
    )
    SELECT p.*, hc.hosts AS host_changes
      FROM pairs p
      LEFT JOIN host_changes hc ON hc.domain = p.domain$q$, new_scan, old_scan)
$$;

CREATE FUNCTION danescan_pair_counts_sql(new_scan text, old_scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    SELECT (SELECT count(*) FROM domains WHERE scan_id = %1$L),
           (SELECT count(*) FROM domains WHERE scan_id = %2$L),
           (SELECT count(*) FROM domains n JOIN domains o ON o.domain = n.domain AND o.scan_id = %2$L
             WHERE n.scan_id = %1$L)$q$, new_scan, old_scan)
$$;

CREATE FUNCTION danescan_pair_changes(new_scan text, old_scan text)
RETURNS TABLE (domain text, old_seq bigint, new_seq bigint, old_status domain_status, new_status domain_status,
               old_tlsa boolean, new_tlsa boolean, old_mx_dnssec dnssec_state, new_mx_dnssec dnssec_state,
               new_failure text, host_changes text)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF new_scan IS NULL OR old_scan IS NULL THEN
    RETURN;
  ELSIF danescan_pair_fresh(new_scan, old_scan) THEN
    RETURN QUERY SELECT c.domain, c.old_seq, c.new_seq, c.old_status, c.new_status, c.old_tlsa, c.new_tlsa,
                        c.old_mx_dnssec, c.new_mx_dnssec, c.new_failure, c.host_changes
                   FROM scan_pair_changes c WHERE c.scan_id = new_scan AND c.previous_id = old_scan;
  ELSE
    RETURN QUERY EXECUTE danescan_pair_changes_sql(new_scan, old_scan);
  END IF;
END
$$;

CREATE FUNCTION danescan_pair_counts(new_scan text, old_scan text)
RETURNS TABLE (current_names bigint, previous_names bigint, names_in_both bigint)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF new_scan IS NULL OR old_scan IS NULL THEN
    RETURN;
  ELSIF danescan_pair_fresh(new_scan, old_scan) THEN
    RETURN QUERY SELECT p.current_names, p.previous_names, p.names_in_both
                   FROM scan_pairs p WHERE p.scan_id = new_scan AND p.previous_id = old_scan;
  ELSE
    RETURN QUERY EXECUTE danescan_pair_counts_sql(new_scan, old_scan);
  END IF;
END
$$;

-- 4. time_to_fix (reports/time_to_fix.sql) per scan. Its rows depend on
--    the scan's whole series (danescan_scan_series), so the summary is
--    fresh while every scan of the series is unchanged and none was added
--    or dropped: danescan_series_source_key.
CREATE FUNCTION danescan_series_source_key(scan text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg(s.scan_id || '=' || danescan_scan_source_key(s.scan_id), ', ' ORDER BY s.position)
    FROM danescan_scan_series(scan) s
$$;

CREATE TABLE scan_time_to_fix (
  scan_id               text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  series_key            text NOT NULL,   -- danescan_series_source_key when computed
  part                  integer NOT NULL, -- 0: all providers, 1: a provider
  provider              text NOT NULL,
  episodes              bigint NOT NULL,
  fixed                 bigint NOT NULL,
  left_failure          bigint NOT NULL,
  still_failing         bigint NOT NULL,
  median_days_to_fix    numeric,
  fixed_within_7_days   bigint NOT NULL,
  fixed_within_30_days  bigint NOT NULL,
  fixed_later           bigint NOT NULL
);
CREATE INDEX scan_time_to_fix_scan_idx ON scan_time_to_fix (scan_id);

-- The rows of reports/time_to_fix.sql (with its part column) for one scan,
-- the file's query with the scan id a literal.
CREATE FUNCTION danescan_time_to_fix_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    WITH ordered AS (
      SELECT scan_id AS id, started_at, "position" FROM danescan_scan_series(%1$L)
    ), failing AS (
      -- rare statuses: read through the status index, not the whole partitions
      SELECT d.domain, d.seq, o.id AS scan_id, o.position, o.started_at
        FROM domains d
        JOIN ordered o ON o.id = d.scan_id
       WHERE d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')
    ), islands AS (
      SELECT f.*, f.position - row_number() OVER (PARTITION BY f.domain ORDER BY f.position) AS island
        FROM failing f
    ), episodes AS (
      SELECT domain, island, min(started_at) AS failed_at, max(position) AS last_position,
             (array_agg(scan_id ORDER BY position))[1] AS first_scan,
             (array_agg(seq ORDER BY position))[1] AS first_seq
        FROM islands
       GROUP BY domain, island
    ), working AS (
      -- dane-valid or dane-partial rows of the episodes' domains (rare statuses too)
      SELECT d.domain, o.position
        FROM domains d
        JOIN ordered o ON o.id = d.scan_id
       WHERE d.status IN ('dane-valid', 'dane-partial') AND d.domain IN (SELECT domain FROM episodes)
    ), ended AS (
      SELECT e.domain, e.island, e.first_scan, e.first_seq,
             CASE WHEN nxt.id IS NULL THEN 'open' WHEN w.domain IS NOT NULL THEN 'fixed' ELSE 'left' END AS end_kind,
             extract(epoch FROM nxt.started_at - e.failed_at) / 86400.0 AS days
        FROM episodes e
        LEFT JOIN ordered nxt ON nxt.position = e.last_position + 1
        LEFT JOIN working w ON w.domain = e.domain AND w.position = e.last_position + 1
    ), failing_hosts AS (
      SELECT DISTINCT m.scan_id, m.seq, danescan_host_provider(h.host, h.provider) AS provider
        FROM domain_mx m
        JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
       WHERE m.scan_id IN (SELECT id FROM ordered)
         AND (m.scan_id, m.seq) IN (SELECT first_scan, first_seq FROM ended)
         AND h.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed')
         AND danescan_host_provider(h.host, h.provider) IS NOT NULL
    ), attributed AS (
      SELECT coalesce(p.provider, '(no provider)') AS provider, e.end_kind, e.days
        FROM ended e
        LEFT JOIN failing_hosts p ON p.scan_id = e.first_scan AND p.seq = e.first_seq
    ), per_provider AS (
      SELECT 1 AS part, provider, count(*) AS episodes,
             count(*) FILTER (WHERE end_kind = 'fixed') AS fixed,
             count(*) FILTER (WHERE end_kind = 'left') AS left_failure,
             count(*) FILTER (WHERE end_kind = 'open') AS still_failing,
             round((percentile_cont(0.5) WITHIN GROUP (ORDER BY days) FILTER (WHERE end_kind = 'fixed'))::numeric, 1)
               AS median_days_to_fix,
             count(*) FILTER (WHERE end_kind = 'fixed' AND days <= 7) AS fixed_within_7_days,
             count(*) FILTER (WHERE end_kind = 'fixed' AND days > 7 AND days <= 30) AS fixed_within_30_days,
             count(*) FILTER (WHERE end_kind = 'fixed' AND days > 30) AS fixed_later
        FROM attributed
       GROUP BY provider
       ORDER BY count(*) DESC, provider
       LIMIT 20
    ), total AS (
      SELECT 0 AS part, 'all providers' AS provider, count(*) AS episodes,
             count(*) FILTER (WHERE end_kind = 'fixed') AS fixed,
             count(*) FILTER (WHERE end_kind = 'left') AS left_failure,
             count(*) FILTER (WHERE end_kind = 'open') AS still_failing,
             round((percentile_cont(0.5) WITHIN GROUP (ORDER BY days) FILTER (WHERE end_kind = 'fixed'))::numeric, 1)
               AS median_days_to_fix,
             count(*) FILTER (WHERE end_kind = 'fixed' AND days <= 7) AS fixed_within_7_days,
             count(*) FILTER (WHERE end_kind = 'fixed' AND days > 7 AND days <= 30) AS fixed_within_30_days,
             count(*) FILTER (WHERE end_kind = 'fixed' AND days > 30) AS fixed_later
        FROM ended
    )
    SELECT part, provider, episodes, fixed, left_failure, still_failing, median_days_to_fix, fixed_within_7_days,
           fixed_within_30_days, fixed_later
      FROM (SELECT * FROM total UNION ALL SELECT * FROM per_provider) rows$q$, scan)
$$;

CREATE FUNCTION danescan_time_to_fix_fresh(scan text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM scan_time_to_fix t
                  WHERE t.scan_id = scan AND t.series_key = danescan_series_source_key(scan))
$$;

CREATE FUNCTION danescan_time_to_fix(scan text)
RETURNS TABLE (part integer, provider text, episodes bigint, fixed bigint, left_failure bigint, still_failing bigint,
               median_days_to_fix numeric, fixed_within_7_days bigint, fixed_within_30_days bigint,
               fixed_later bigint)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 AS $$
BEGIN
  IF scan IS NULL THEN
    RETURN;
  ELSIF danescan_time_to_fix_fresh(scan) THEN
    RETURN QUERY SELECT t.part, t.provider, t.episodes, t.fixed, t.left_failure, t.still_failing, t.median_days_to_fix,
                        t.fixed_within_7_days, t.fixed_within_30_days, t.fixed_later
                   FROM scan_time_to_fix t WHERE t.scan_id = scan;
  ELSE
    RETURN QUERY EXECUTE danescan_time_to_fix_sql(scan);
  END IF;
END
$$;

-- (Re)computes a scan's time_to_fix summary when stale. Called by
-- danescan_summarize_scan.
CREATE FUNCTION danescan_summarize_time_to_fix(scan text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 AS $$
DECLARE
  key text := danescan_series_source_key(scan);
BEGIN
  IF key IS NULL OR EXISTS (SELECT 1 FROM scan_time_to_fix t WHERE t.scan_id = scan AND t.series_key = key) THEN
    RETURN false;
  END IF;
  DELETE FROM scan_time_to_fix WHERE scan_id = scan;
  EXECUTE 'INSERT INTO scan_time_to_fix (part, provider, episodes, fixed, left_failure, still_failing, '
          || 'median_days_to_fix, fixed_within_7_days, fixed_within_30_days, fixed_later, scan_id, series_key) '
          || 'SELECT q.*, ' || quote_literal(scan) || ', ' || quote_literal(key)
          || ' FROM (' || danescan_time_to_fix_sql(scan) || ') q';
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_summarize_time_to_fix(text) FROM PUBLIC;

-- 5. diff_hosts (reports/diff_hosts.sql): the hosts in both scans whose
--    status changed, with the newer TLSA failure, kept with the pair.
CREATE TABLE scan_pair_host_changes (
  scan_id      text NOT NULL,
  previous_id  text NOT NULL,
  host         text NOT NULL,
  old_status   host_status NOT NULL,
  new_status   host_status NOT NULL,
  tlsa_reason  text,
  FOREIGN KEY (scan_id, previous_id) REFERENCES scan_pairs (scan_id, previous_id) ON DELETE CASCADE
);
CREATE INDEX scan_pair_host_changes_pair_idx ON scan_pair_host_changes (scan_id, previous_id);

CREATE FUNCTION danescan_pair_host_changes_sql(new_scan text, old_scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    SELECT n.host, o.status AS old_status, n.status AS new_status,
           coalesce(n.tlsa_failure, 'EDE ' || n.tlsa_ede_code || ': ' || n.tlsa_ede_text) AS tlsa_reason
      FROM mx_hosts n
      JOIN mx_hosts o ON o.host = n.host AND o.scan_id = %2$L
     WHERE n.scan_id = %1$L AND o.status IS DISTINCT FROM n.status$q$, new_scan, old_scan)
$$;

CREATE FUNCTION danescan_pair_host_changes(new_scan text, old_scan text)
RETURNS TABLE (host text, old_status host_status, new_status host_status, tlsa_reason text)
LANGUAGE plpgsql STABLE SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
BEGIN
  IF new_scan IS NULL OR old_scan IS NULL THEN
    RETURN;
  ELSIF danescan_pair_fresh(new_scan, old_scan) THEN
    RETURN QUERY SELECT c.host, c.old_status, c.new_status, c.tlsa_reason
                   FROM scan_pair_host_changes c WHERE c.scan_id = new_scan AND c.previous_id = old_scan;
  ELSE
    RETURN QUERY EXECUTE danescan_pair_host_changes_sql(new_scan, old_scan);
  END IF;
END
$$;

-- (Re)computes the summary of a pair of scans; a no-op when fresh unless
-- force. Returns true when it computed it.
CREATE FUNCTION danescan_summarize_pair(new_scan text, old_scan text, force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
DECLARE
  key text;
  t0 timestamptz := clock_timestamp();
BEGIN
  IF new_scan IS NULL OR old_scan IS NULL OR new_scan = old_scan THEN
    RETURN false;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('danescan_summarize_pair'), hashtext(new_scan || ' ' || old_scan));
  key := danescan_pair_source_key(new_scan, old_scan);
  IF key IS NULL THEN
    RETURN false; -- no such scan
  END IF;
  IF NOT force AND EXISTS (SELECT 1 FROM scan_pairs p WHERE p.scan_id = new_scan AND p.previous_id = old_scan
                                                       AND p.source_key = key) THEN
    RETURN false;
  END IF;
  DELETE FROM scan_pairs WHERE scan_id = new_scan AND previous_id = old_scan;
  EXECUTE 'INSERT INTO scan_pairs (current_names, previous_names, names_in_both, scan_id, previous_id, source_key, '
          || 'compute_ms) SELECT q.*, ' || quote_literal(new_scan) || ', ' || quote_literal(old_scan) || ', '
          || quote_literal(key) || ', 0 FROM (' || danescan_pair_counts_sql(new_scan, old_scan) || ') q';
  EXECUTE 'INSERT INTO scan_pair_changes (domain, old_seq, new_seq, old_status, new_status, old_tlsa, new_tlsa, '
          || 'old_mx_dnssec, new_mx_dnssec, new_failure, host_changes, scan_id, previous_id) SELECT q.*, '
          || quote_literal(new_scan) || ', ' || quote_literal(old_scan)
          || ' FROM (' || danescan_pair_changes_sql(new_scan, old_scan) || ') q';
  EXECUTE 'INSERT INTO scan_pair_host_changes (host, old_status, new_status, tlsa_reason, scan_id, previous_id) '
          || 'SELECT q.*, ' || quote_literal(new_scan) || ', ' || quote_literal(old_scan)
          || ' FROM (' || danescan_pair_host_changes_sql(new_scan, old_scan) || ') q';
  UPDATE scan_pairs SET compute_ms = (extract(epoch FROM clock_timestamp() - t0) * 1000)::integer
   WHERE scan_id = new_scan AND previous_id = old_scan;
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_summarize_pair(text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION danescan_summarize_pair(text, text, boolean) TO danescan_reader;

-- domain_status_diff (migration 002) from the pair's changes: same columns
-- and rows (the names in both scans whose status differs).
CREATE OR REPLACE FUNCTION domain_status_diff(old_scan text, new_scan text)
RETURNS TABLE (domain text, old_status domain_status, new_status domain_status)
LANGUAGE sql STABLE AS $$
  SELECT c.domain, c.old_status, c.new_status
    FROM danescan_pair_changes(new_scan, old_scan) c
   WHERE c.old_status IS DISTINCT FROM c.new_status
$$;

-- Migration 012's summariser with the summaries of this migration: the
-- provider rows go to the scan's own partition of scan_mx_providers; at the
-- end, the pair of this scan and the scan before it in its series.
CREATE OR REPLACE FUNCTION danescan_summarize_scan(scan text, force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
DECLARE
  key text;
  before text;
  part text := danescan_partition_name('scan_mx_providers', scan);
  t0 timestamptz := clock_timestamp();
BEGIN
  -- One summariser per scan at a time (two reports starting together).
  PERFORM pg_advisory_xact_lock(hashtext('danescan_summarize_scan'), hashtext(scan));
  key := danescan_scan_source_key(scan);
  IF key IS NULL THEN
    RETURN false; -- no such scan
  END IF;
  IF NOT force AND EXISTS (SELECT 1 FROM scan_summaries m WHERE m.scan_id = scan AND m.source_key = key) THEN
    -- time_to_fix also goes stale when a scan of the series changes
    RETURN danescan_summarize_time_to_fix(scan);
  END IF;
  DELETE FROM scan_time_to_fix WHERE scan_id = scan;
  DELETE FROM scan_domain_counts WHERE scan_id = scan;
  DELETE FROM scan_provider_counts WHERE scan_id = scan;
  DELETE FROM scan_probe_failures WHERE scan_id = scan;
  DELETE FROM scan_published_metrics WHERE scan_id = scan;
  DELETE FROM scan_providers_broken WHERE scan_id = scan;
  DELETE FROM scan_tlsa_parameters WHERE scan_id = scan;
  DELETE FROM scan_failures_by_cause WHERE scan_id = scan;
  DELETE FROM scan_summaries WHERE scan_id = scan;
  -- (Scans started before migration 18 get their partition here.)
  PERFORM danescan_create_partition('scan_mx_providers', part, scan);
  EXECUTE format('DELETE FROM %I', part);
  EXECUTE 'INSERT INTO scan_domain_counts (tld, status, mx_dnssec, with_mail, any_secure_host, any_tlsa, domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_domain_counts_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_provider_counts (provider, domains, domains_with_tlsa, dane_valid_domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_provider_counts_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_probe_failures (result, applies, addresses, hosts, domains, example_domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_probe_failures_sql(scan) || ') q';
  EXECUTE format('INSERT INTO %I (provider, hosts, domains, dane_valid_hosts, dane_failed_hosts, '
                 'hosts_with_tlsa, domains_with_tlsa, scan_id) SELECT q.*, %L FROM (%s) q',
                 part, scan, danescan_mx_providers_sql(scan));
  EXECUTE 'INSERT INTO scan_published_metrics (position, numerator, denominator, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_published_metrics_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_providers_broken (provider, broken_domains, failing_hosts, domains_with_tlsa, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_providers_broken_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_tlsa_parameters (usage, selector, matching_type, records, usable_records, hosts, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_tlsa_parameters_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_failures_by_cause (level, status, cause, count, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_failures_by_cause_sql(scan) || ') q';
  PERFORM danescan_summarize_time_to_fix(scan);
  INSERT INTO scan_summaries (scan_id, source_key, compute_ms)
  VALUES (scan, key, (extract(epoch FROM clock_timestamp() - t0) * 1000)::integer);
  -- The pair with the scan before it in its series (what `report
  -- --previous` and `diff` of consecutive scans read).
  SELECT s.scan_id INTO before FROM danescan_scan_series(scan) s WHERE s.scan_id <> scan
   ORDER BY s.position DESC LIMIT 1;
  IF before IS NOT NULL THEN
    PERFORM danescan_summarize_pair(scan, before);
  END IF;
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) TO danescan_reader;

DELETE FROM scan_summaries;

-- The partitions of scan_mx_providers for the scans stored before this
-- migration (the summaries' own scans' are created at scan start).
DO $$
DECLARE
  scan text;
BEGIN
  FOR scan IN SELECT id FROM scans LOOP
    PERFORM danescan_create_partition('scan_mx_providers', danescan_partition_name('scan_mx_providers', scan), scan);
  END LOOP;
END
$$;

GRANT SELECT ON scan_mx_providers, scan_published_metrics, scan_providers_broken, scan_tlsa_parameters,
  scan_failures_by_cause, scan_pairs, scan_pair_changes, scan_pair_host_changes, scan_time_to_fix, tlsa_parameters, failures_by_cause TO danescan_reader;
GRANT EXECUTE ON FUNCTION danescan_published_metrics(text), danescan_providers_broken(text),
  danescan_tlsa_parameters(text), danescan_failures_by_cause(text), danescan_pair_changes(text, text),
  danescan_pair_counts(text, text), danescan_pair_fresh(text, text), danescan_pair_host_changes(text, text),
  danescan_time_to_fix(text), danescan_time_to_fix_fresh(text), danescan_series_source_key(text) TO danescan_reader;
