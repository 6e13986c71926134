-- Report table "rollover": rollover classes (RESULTS.md, deployment quality)
-- of MX hosts with a secure, non-empty TLSA RRset, with the domains they serve.
-- Plan: the scan's TLSA hosts, their links by the scan's domain_mx (host)
-- index.
-- psql variables: scan_id.
WITH hosts AS (
  SELECT h.host, h.rollover FROM mx_hosts h
   WHERE h.scan_id = :'scan_id' AND h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0
), served AS (
  SELECT x.rollover, count(DISTINCT m.seq) AS domains
    FROM hosts x
    JOIN domain_mx m ON m.scan_id = :'scan_id' AND m.host = x.host
   GROUP BY x.rollover
)
SELECT h.rollover::text AS rollover,
       count(*) AS hosts,
       round(100.0 * count(*) / nullif(sum(count(*)) OVER (), 0), 1) AS pct_of_hosts,
       coalesce(max(s.domains), 0) AS domains
  FROM hosts h
  LEFT JOIN served s ON s.rollover = h.rollover
 GROUP BY h.rollover
 ORDER BY h.rollover;
