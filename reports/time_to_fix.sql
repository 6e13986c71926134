-- Report table "time_to_fix": DANE failure episodes in the scans of this
-- scan's input (same input file digests, as trend.sql: the last 100 scans up
-- to this one, danescan_scan_series of migration 012), overall and for the 20 MX providers with the most episodes.
-- An episode is a run of consecutive scans of that series in which a domain's
-- status is a DANE failure (dane-failed, dane-unreachable, tlsa-unusable).
-- It ends in the next scan of the series: "fixed" when the domain is
-- dane-valid or dane-partial there, "left" otherwise (DANE removed, another
-- kind of failure, or the domain not in that scan); "still failing" when the
-- failure reaches this scan. Days to fix: from the start of the first failing
-- scan to the start of the fixing scan (an upper bound, at the resolution of
-- the scan interval; an episode already failing in the oldest scan of the
-- series counts from that scan). Buckets: fixed within 7 days, within 30
-- days, later. Provider: the registrable domain (Public Suffix List) of each
-- MX host that was a failure (dane-failed, dane-unreachable, tlsa-unusable,
-- tlsa-failed) in the episode's first scan; an episode counts once per
-- provider, and once in the "all providers" row. The research view
-- domain_failure_episodes (migration 010) lists the episodes themselves.
-- psql variables: scan_id.
WITH ordered AS (
  SELECT scan_id AS id, started_at, "position" FROM danescan_scan_series(:'scan_id')
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
SELECT provider, episodes, fixed, left_failure, still_failing, median_days_to_fix, fixed_within_7_days,
       fixed_within_30_days, fixed_later
  FROM (SELECT * FROM total UNION ALL SELECT * FROM per_provider) rows
 ORDER BY part, episodes DESC, provider;
