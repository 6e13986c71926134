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
--   unranked: invalid-name, dane-unprobed (a DNS-only scan decides nothing),
--     skipped (opted out: not looked up)
-- Rows: the pair summary of the two scans (migration 018,
-- danescan_pair_changes: computed once per pair, at the newer scan's
-- completion for the scan before it in its series, or by `danescan diff`
-- and `report --previous`; without it, the same rows from the raw rows:
-- one hash join of the two scans' domains partitions by name, then the
-- links and probes of the changed domains, about 1 % of a scan, by the
-- partitions' (seq) and (host) indexes; the SQL is
-- danescan_pair_changes_sql). host_changes is the reason's first choice:
-- each MX host of the domain in either scan whose status changed, "HOST:
-- OLD -> NEW" ("not an MX host" when absent from a scan), with the newer
-- scan's address results other than authenticated, joined by "; ".
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
         c.new_failure, c.host_changes, ro.rank AS old_rank, rn.rank AS new_rank
    FROM danescan_pair_changes(:'to_scan', :'from_scan') c
    LEFT JOIN domain_rank ro ON ro.status = c.old_status
    LEFT JOIN domain_rank rn ON rn.status = c.new_status
   WHERE c.old_status IS DISTINCT FROM c.new_status
)
SELECT CASE WHEN p.old_rank IS NULL OR p.new_rank IS NULL OR p.old_rank = p.new_rank THEN 'changed'
            WHEN p.new_rank < p.old_rank THEN 'worse' ELSE 'better' END AS direction,
       p.domain,
       p.old_status::text AS from_status,
       p.new_status::text AS to_status,
       coalesce(p.host_changes,
                CASE WHEN p.old_mx_dnssec IS DISTINCT FROM p.new_mx_dnssec
                     THEN 'MX RRset ' || coalesce(p.old_mx_dnssec::text, 'none') || ' -> '
                          || coalesce(p.new_mx_dnssec::text, 'none') END,
                p.new_failure, '') AS reason
  FROM pairs p
 ORDER BY 1 DESC, p.domain;
