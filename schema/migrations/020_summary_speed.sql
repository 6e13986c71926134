-- danescan schema, migration 20: keeps the time to summarise a scan linear
-- in its domains (issue 17), whatever the load. With 018, a 1M-domain scan
-- took 58-77 s at completion under load 8-12 (plus 14 s for the pair), and
-- a 3M scan about 21 minutes under load 11-18. On a quiet machine 018 took
-- 22 s (plus 10.7 s) at 1M and 115-118 s (plus 17.5 s) at 3M. With 020:
-- 18-22 s (plus 4.0 s) at 1M, quiet or under load 4-5, and 96-98 s (plus
-- 17 s) at 3M. docs/ARCHITECTURE.md, "Reports at scale", has every figure.
--
-- 1. No planner statistics. The summaries run when the scan's last batch
--    commits. At that point autovacuum has not yet analyzed the new
--    partitions, and under load it lags by minutes. Without statistics the
--    planner assumes 200 distinct hosts and seqs, and joins domain_mx to
--    mx_hosts with a merge join over the (host) indexes. That reads the
--    domain_mx heap in host order, with one random page access per row: at
--    1M, scan_domain_counts took 16.9 s instead of 1.6 s. With statistics,
--    018's summaries took 16 s at 1M and 53 s at 3M, so they grow about
--    linearly. danescan_analyze_scan ANALYZEs the six partitions the
--    summaries read before the summaries run. It samples 30,000 rows per
--    table, so the cost stays bounded at any size: 0.5-0.9 s in all at 1M
--    and 3M. The pair summary analyzes only partitions never analyzed, so
--    the newer scan is analyzed before the pair's name join. That join went
--    from 10.7 s to 4.0 s at 1M on a quiet machine.
--
-- 2. Merge joins even with statistics: a merge join over the (host) index
--    of domain_mx looks cheaper to the planner than a hash join, and reads
--    the heap in random order. The summarisers now run with
--    enable_mergejoin = off (enable_nestloop was already off): every join
--    of the scan's tables is a hash join of two sequential scans.
--
-- 3. work_mem 512MB (was 256MB) in the summarisers, so the per-domain hash
--    aggregates and the sorts of the provider counts stay in memory up to
--    about 3M domains a scan (at 1M the largest node used 213MB) and spill
--    in few batches beyond (a spilled hash aggregate is still linear). A
--    hash node may use hash_mem_multiplier (2) times work_mem: 1GB; the
--    summary plans keep at most three such nodes live, so one summariser
--    stays under about 3GB of the machine's 24GB (summarisers of two scans
--    can run at once; the scanner itself needs a few hundred MB).
--
-- The SQL of every summary (the danescan_X_sql functions) and the readers
-- (and their fallback to the raw rows) are unchanged: the same rows.

-- ANALYZEs the scan's partitions that the summaries read; with only_missing,
-- only those never analyzed. ANALYZE runs inside the caller's transaction
-- (it takes SHARE UPDATE EXCLUSIVE on the partition: the scan's writers and
-- readers do not wait for it). As the owner of the partitions (called from
-- the SECURITY DEFINER summarisers).
CREATE FUNCTION danescan_analyze_scan(scan text, only_missing boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  tbl text;
  rel regclass;
BEGIN
  FOREACH tbl IN ARRAY ARRAY['domains', 'domain_mx', 'mx_hosts', 'probes', 'tlsa_records', 'probe_chain'] LOOP
    rel := to_regclass(format('%I', danescan_partition_name(tbl, scan)));
    CONTINUE WHEN rel IS NULL;
    -- reltuples is -1 until the first ANALYZE or VACUUM (PostgreSQL 14+)
    CONTINUE WHEN only_missing AND (SELECT c.reltuples >= 0 FROM pg_class c WHERE c.oid = rel);
    EXECUTE format('ANALYZE %s', rel);
  END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_analyze_scan(text, boolean) FROM PUBLIC;

-- Migration 018's danescan_summarize_pair; changed: work_mem 512MB,
-- enable_mergejoin off, and the two danescan_analyze_scan calls.
CREATE OR REPLACE FUNCTION danescan_summarize_pair(new_scan text, old_scan text, force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET work_mem = '512MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off SET enable_mergejoin = off AS $$
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
  PERFORM danescan_analyze_scan(new_scan, true);  -- 020: partitions never analyzed
  PERFORM danescan_analyze_scan(old_scan, true);
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

-- Migration 019's danescan_summarize_scan (018's with the history calls);
-- changed: work_mem 512MB, enable_mergejoin off, and the danescan_analyze_scan
-- call before the summaries.
CREATE OR REPLACE FUNCTION danescan_summarize_scan(scan text, force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET work_mem = '512MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off SET enable_mergejoin = off AS $$
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
    PERFORM danescan_summarize_history();
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
  PERFORM danescan_analyze_scan(scan);  -- 020: the planner's statistics of the scan's partitions
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
  PERFORM danescan_summarize_history();
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) TO danescan_reader;

ALTER FUNCTION danescan_summarize_time_to_fix(text) SET work_mem = '512MB';
ALTER FUNCTION danescan_summarize_time_to_fix(text) SET enable_mergejoin = off;
-- 019's history update keeps the plans it was tuned with (merge joins
-- allowed) inside the summariser, which now turns them off.
ALTER FUNCTION danescan_summarize_history() SET enable_mergejoin = on;
