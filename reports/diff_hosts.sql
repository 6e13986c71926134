-- `danescan diff`, MX hosts: hosts in both scans whose status changed, with
-- the direction, the domains of the newer scan they serve, and the reason
-- (TLSA lookup failure, else the newer scan's failing address results).
-- Order of host statuses, best first (see diff_domains.sql for the rule):
--   4 dane-valid
--   3 no-tlsa, insecure (DANE not in use)
--   2 tlsa-unusable, dane-unreachable
--   1 dane-failed, tlsa-failed, address-failed, no-address
--   unranked: dane-unprobed
-- Plan: one join of the two scans' mx_hosts partitions, then the changed
-- hosts' links and probes by the (host) indexes (migration 009).
-- psql variables: from_scan, to_scan.
WITH host_rank(status, rank) AS (VALUES
  ('dane-valid'::host_status, 4), ('no-tlsa', 3), ('insecure', 3),
  ('tlsa-unusable', 2), ('dane-unreachable', 2),
  ('dane-failed', 1), ('tlsa-failed', 1), ('address-failed', 1), ('no-address', 1)
), changed AS (
  -- the pair summary (migration 018: danescan_pair_host_changes, or the same
  -- rows from the raw rows: one join of the two scans' mx_hosts by host)
  SELECT c.host, c.old_status, c.new_status, c.tlsa_reason
    FROM danescan_pair_host_changes(:'to_scan', :'from_scan') c
), served AS (
  SELECT m.host, count(DISTINCT m.seq) AS domains
    FROM domain_mx m
   WHERE m.scan_id = :'to_scan' AND m.host IN (SELECT host FROM changed)
   GROUP BY m.host
), probe_reasons AS (
  SELECT pr.host,
         string_agg(host(pr.address) || ' ' || pr.result::text || coalesce(' ' || pr.reason, ''), '; '
                    ORDER BY pr.address, pr.probe_no) AS results
    FROM probes pr
   WHERE pr.scan_id = :'to_scan' AND pr.result <> 'authenticated'
     AND pr.host IN (SELECT host FROM changed WHERE tlsa_reason IS NULL)
   GROUP BY pr.host
)
SELECT CASE WHEN ro.rank IS NULL OR rn.rank IS NULL OR ro.rank = rn.rank THEN 'changed'
            WHEN rn.rank < ro.rank THEN 'worse' ELSE 'better' END AS direction,
       c.host,
       c.old_status::text AS from_status,
       c.new_status::text AS to_status,
       coalesce(s.domains, 0) AS domains,
       coalesce(c.tlsa_reason, r.results, '') AS reason
  FROM changed c
  LEFT JOIN served s ON s.host = c.host
  LEFT JOIN probe_reasons r ON r.host = c.host
  LEFT JOIN host_rank ro ON ro.status = c.old_status
  LEFT JOIN host_rank rn ON rn.status = c.new_status
 ORDER BY 1 DESC, c.host;
