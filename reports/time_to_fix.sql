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
-- The rows come from danescan_time_to_fix() (migration 018: the scan's
-- summary while its series is unchanged, else this query on the raw rows,
-- danescan_time_to_fix_sql).
SELECT provider, episodes, fixed, left_failure, still_failing, median_days_to_fix, fixed_within_7_days,
       fixed_within_30_days, fixed_later
  FROM danescan_time_to_fix(:'scan_id')
 ORDER BY part, episodes DESC, provider;
