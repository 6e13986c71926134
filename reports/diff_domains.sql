-- `danescan diff`, domains: domains in both scans whose status changed, with
-- the direction and the reason (the MX hosts whose status changed, with the
-- failing address results of the newer scan).
-- Order of domain statuses, best first (a move down is "worse", up "better",
-- between equal ranks or to/from an unranked status "changed"):
--   5 dane-valid
--   4 dane-partial
--   3 no-dane, insecure, no-mail, null-mx, nxdomain (DANE not in use)
--   2 tlsa-unusable, dane-unreachable
--   1 dane-failed, dnssec-bogus, lookup-failed
--   unranked: invalid-name, dane-unprobed (a DNS-only scan decides nothing)
-- Plan: one hash join of the two scans' domains partitions by name; the
-- links and probes of the changed domains (about 1 % of a scan) by the
-- partitions' (seq) and (host) indexes, one index lookup each (migration
-- 009 added probes (host); every scan id is a literal, so each lookup
-- reads one partition). Measured at 1M domains a scan: 2.3 s, against
-- 7 to 10 s for set-based rewrites that hashed the changed domains' links.
-- psql variables: from_scan, to_scan.
WITH domain_rank(status, rank) AS (VALUES
  ('dane-valid'::domain_status, 5), ('dane-partial', 4),
  ('no-dane', 3), ('insecure', 3), ('no-mail', 3), ('null-mx', 3), ('nxdomain', 3),
  ('tlsa-unusable', 2), ('dane-unreachable', 2),
  ('dane-failed', 1), ('dnssec-bogus', 1), ('lookup-failed', 1)
), pairs AS (
  -- the pair summary (migration 018: danescan_pair_changes, or the same rows
  -- from the raw rows: one join of the two scans' domains by name)
  SELECT c.domain, c.old_seq, c.new_seq, c.old_status, c.new_status, c.old_mx_dnssec, c.new_mx_dnssec,
         c.new_failure, ro.rank AS old_rank, rn.rank AS new_rank
    FROM danescan_pair_changes(:'to_scan', :'from_scan') c
    LEFT JOIN domain_rank ro ON ro.status = c.old_status
    LEFT JOIN domain_rank rn ON rn.status = c.new_status
   WHERE c.old_status IS DISTINCT FROM c.new_status
), host_pairs AS (
  SELECT p.domain, hl.host,
         (SELECT h.status FROM domain_mx m JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
           WHERE m.scan_id = :'from_scan' AND m.seq = p.old_seq AND m.host = hl.host LIMIT 1) AS old_status,
         (SELECT h.status FROM domain_mx m JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
           WHERE m.scan_id = :'to_scan' AND m.seq = p.new_seq AND m.host = hl.host LIMIT 1) AS new_status
    FROM pairs p
   CROSS JOIN LATERAL (SELECT m.host FROM domain_mx m WHERE m.scan_id = :'from_scan' AND m.seq = p.old_seq
                       UNION
                       SELECT m.host FROM domain_mx m WHERE m.scan_id = :'to_scan' AND m.seq = p.new_seq) hl
), host_changes AS (
  SELECT hp.domain,
         string_agg(hp.host || ': ' || coalesce(hp.old_status::text, 'not an MX host') || ' -> '
                    || coalesce(hp.new_status::text, 'not an MX host')
                    || coalesce(' (' || (SELECT string_agg(host(pr.address) || ' ' || pr.result::text
                                                            || coalesce(' ' || pr.reason, ''), '; '
                                                            ORDER BY pr.address, pr.probe_no)
                                           FROM probes pr
                                          WHERE pr.scan_id = :'to_scan' AND pr.host = hp.host
                                            AND hp.new_status IS NOT NULL
                                            AND pr.result <> 'authenticated') || ')', ''),
                    '; ' ORDER BY hp.host) AS hosts
    FROM host_pairs hp
   WHERE hp.old_status IS DISTINCT FROM hp.new_status
   GROUP BY hp.domain
)
SELECT CASE WHEN p.old_rank IS NULL OR p.new_rank IS NULL OR p.old_rank = p.new_rank THEN 'changed'
            WHEN p.new_rank < p.old_rank THEN 'worse' ELSE 'better' END AS direction,
       p.domain,
       p.old_status::text AS from_status,
       p.new_status::text AS to_status,
       coalesce(hc.hosts,
                CASE WHEN p.old_mx_dnssec IS DISTINCT FROM p.new_mx_dnssec
                     THEN 'MX RRset ' || coalesce(p.old_mx_dnssec::text, 'none') || ' -> '
                          || coalesce(p.new_mx_dnssec::text, 'none') END,
                p.new_failure, '') AS reason
  FROM pairs p
  LEFT JOIN host_changes hc ON hc.domain = p.domain
 ORDER BY 1 DESC, p.domain;
