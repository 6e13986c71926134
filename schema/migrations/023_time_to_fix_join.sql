-- danescan schema, migration 23: time_to_fix's provider attribution no
-- longer joins every failing MX host of a scan with every episode of that
-- scan.
--
-- danescan_time_to_fix_sql (migration 018) found the failing hosts of each
-- episode's first row with `(m.scan_id, m.seq) IN (SELECT first_scan,
-- first_seq FROM ended)`. The planner estimated the episodes at the default
-- 200 rows, and with the summariser's settings (no nested loops, no merge
-- joins) it joined the failing mx_hosts rows with the episodes on the scan
-- id alone before domain_mx: at 3M domains x 2 scans, 5,690 failing hosts
-- x 16,080 episodes made a 45.6M-row hash (917 MB, 8 batches), and the
-- query took 30-38 s. That grows with the square of the scan's size (a
-- 10M scan's summaries at completion took 851 s; this join's share there
-- was not measured, and another statement is slow at 10M too: docs/
-- ARCHITECTURE.md). Now the episodes'
-- first rows are joined with domain_mx by (scan, seq) first, in a
-- materialized CTE that the planner cannot reorder, and only those rows'
-- hosts are looked up by (scan, host). The same rows (test_report_metrics
-- asserts time_to_fix on a fixture with known answers; the bench compared
-- old and new on 3M x 2 scans).
--
-- Summaries already stored stay valid: their rows are the same.

CREATE OR REPLACE FUNCTION danescan_time_to_fix_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
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
    ), episode_mx AS MATERIALIZED (
      -- the MX hosts of each episode's first row, found by (scan, seq) before
      -- any host is looked at (migration 023)
      SELECT m.scan_id, m.seq, m.host
        FROM (SELECT DISTINCT first_scan, first_seq FROM ended) e
        JOIN domain_mx m ON m.scan_id = e.first_scan AND m.seq = e.first_seq
       WHERE m.scan_id IN (SELECT id FROM ordered)
    ), failing_hosts AS (
      SELECT DISTINCT x.scan_id, x.seq, danescan_host_provider(h.host, h.provider) AS provider
        FROM episode_mx x
        JOIN mx_hosts h ON h.scan_id = x.scan_id AND h.host = x.host
       WHERE h.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed')
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
