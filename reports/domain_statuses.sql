-- Report table "domain_statuses": domains per status (RESULTS.md words), with
-- a category that keeps "not applicable" (DANE cannot or need not apply) apart
-- from failures, and the previous scan's count.
-- Categories: DANE (dane-valid, dane-partial); failure (dane-failed,
-- dane-unreachable, tlsa-unusable, lookup-failed, dnssec-bogus); not deployed
-- (no-dane: signed, no TLSA); not applicable (nxdomain, null-mx, no-mail,
-- insecure, invalid-name); not probed (dane-unprobed, DNS-only scans); opted
-- out (skipped: in the scan's blocklist, never looked up).
-- Counts come from danescan_domain_counts() (migration 009).
-- psql variables: scan_id, previous_id ('' when there is none).
WITH cur AS (
  SELECT status, sum(domains) AS n FROM danescan_domain_counts(:'scan_id') GROUP BY status
), prev AS (
  SELECT status, sum(domains) AS n FROM danescan_domain_counts(nullif(:'previous_id', '')) GROUP BY status
), total AS (
  SELECT sum(n) AS n FROM cur
), merged AS (
  SELECT coalesce(c.status, p.status) AS status, coalesce(c.n, 0) AS n, p.n AS previous
    FROM cur c FULL JOIN prev p ON p.status = c.status
), categorised AS (
  SELECT m.*,
         CASE WHEN status IN ('dane-valid', 'dane-partial') THEN 1
              WHEN status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'lookup-failed', 'dnssec-bogus') THEN 2
              WHEN status = 'no-dane' THEN 3
              WHEN status IN ('nxdomain', 'null-mx', 'no-mail', 'insecure', 'invalid-name') THEN 4
              WHEN status = 'dane-unprobed' THEN 5
              WHEN status = 'skipped' THEN 6
              ELSE 7 END AS category_order
    FROM merged m
)
SELECT status::text AS status,
       (ARRAY['DANE', 'failure', 'not deployed', 'not applicable', 'not probed', 'opted out', 'other'])[category_order] AS category,
       categorised.n AS domains,
       round(100.0 * categorised.n / nullif(total.n, 0), 1) AS pct,
       previous
  FROM categorised, total
 ORDER BY category_order, status;
