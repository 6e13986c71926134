-- Report table "rollover": rollover classes (RESULTS.md, deployment quality)
-- of MX hosts with a secure, non-empty TLSA RRset, with the domains they serve.
-- psql variables: scan_id.
WITH hosts AS (
  SELECT h.host, h.rollover FROM mx_hosts h
   WHERE h.scan_id = :'scan_id' AND h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0
)
SELECT h.rollover::text AS rollover,
       count(*) AS hosts,
       round(100.0 * count(*) / nullif(sum(count(*)) OVER (), 0), 1) AS pct_of_hosts,
       (SELECT count(DISTINCT m.seq) FROM domain_mx m
         WHERE m.scan_id = :'scan_id' AND m.host IN (SELECT x.host FROM hosts x WHERE x.rollover = h.rollover))
         AS domains
  FROM hosts h
 GROUP BY h.rollover
 ORDER BY h.rollover;
