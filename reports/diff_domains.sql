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
-- Plan: one join of the two scans' domains partitions (by domain, narrow
-- rows), then only the changed domains' rows, links, hosts and probes, by
-- the partitions' (seq) and (host) indexes (migration 009).
-- psql variables: from_scan, to_scan.
WITH domain_rank(status, rank) AS (VALUES
  ('dane-valid'::domain_status, 5), ('dane-partial', 4),
  ('no-dane', 3), ('insecure', 3), ('no-mail', 3), ('null-mx', 3), ('nxdomain', 3),
  ('tlsa-unusable', 2), ('dane-unreachable', 2),
  ('dane-failed', 1), ('dnssec-bogus', 1), ('lookup-failed', 1)
), changed AS (
  -- The one pass over both scans: (domain, seq, status) of each, joined by
  -- name (narrow rows: the hash of a 10M-domain scan stays small).
  SELECT n.domain, o.seq AS old_seq, n.seq AS new_seq, o.status AS old_status, n.status AS new_status
    FROM (SELECT d.domain, d.seq, d.status FROM domains d WHERE d.scan_id = :'to_scan') n
    JOIN (SELECT d.domain, d.seq, d.status FROM domains d WHERE d.scan_id = :'from_scan') o ON o.domain = n.domain
   WHERE o.status IS DISTINCT FROM n.status
), pairs AS (
  -- The rest of the changed domains' rows, by primary key.
  SELECT c.domain, c.old_seq, c.new_seq, c.old_status, c.new_status,
         o.mx_dnssec AS old_mx_dnssec, n.mx_dnssec AS new_mx_dnssec,
         coalesce(n.mx_failure, n.invalid_reason, 'EDE ' || n.mx_ede_code || ': ' || n.mx_ede_text) AS new_failure,
         ro.rank AS old_rank, rn.rank AS new_rank
    FROM changed c
    CROSS JOIN LATERAL (SELECT d.mx_dnssec FROM domains d WHERE d.scan_id = :'from_scan' AND d.seq = c.old_seq) o
    CROSS JOIN LATERAL (SELECT d.mx_dnssec, d.mx_failure, d.invalid_reason, d.mx_ede_code, d.mx_ede_text
                          FROM domains d WHERE d.scan_id = :'to_scan' AND d.seq = c.new_seq) n
    LEFT JOIN domain_rank ro ON ro.status = c.old_status
    LEFT JOIN domain_rank rn ON rn.status = c.new_status
), links AS (
  -- The MX hosts of the changed domains in both scans, with their status:
  -- the changed domains' links only, looked up by the domain_mx (seq) index
  -- of each scan's partition (about 1 % of a scan's domains change).
  SELECT p.domain, l.host, l.status AS old_status, NULL::host_status AS new_status
    FROM pairs p
   CROSS JOIN LATERAL (SELECT m.host, h.status FROM domain_mx m
                         JOIN mx_hosts h ON h.scan_id = :'from_scan' AND h.host = m.host
                        WHERE m.scan_id = :'from_scan' AND m.seq = p.old_seq) l
  UNION ALL
  SELECT p.domain, l.host, NULL, l.status
    FROM pairs p
   CROSS JOIN LATERAL (SELECT m.host, h.status FROM domain_mx m
                         JOIN mx_hosts h ON h.scan_id = :'to_scan' AND h.host = m.host
                        WHERE m.scan_id = :'to_scan' AND m.seq = p.new_seq) l
), host_pairs AS (
  SELECT domain, host, max(old_status) AS old_status, max(new_status) AS new_status
    FROM links
   GROUP BY domain, host
), changed_hosts AS (
  SELECT * FROM host_pairs WHERE old_status IS DISTINCT FROM new_status
), probe_reasons AS (
  -- The failing address results of the newer scan, once per changed host.
  SELECT pr.host,
         string_agg(host(pr.address) || ' ' || pr.result::text || coalesce(' ' || pr.reason, ''), '; '
                    ORDER BY pr.address, pr.probe_no) AS results
    FROM probes pr
   WHERE pr.scan_id = :'to_scan' AND pr.result <> 'authenticated'
     AND pr.host IN (SELECT c.host FROM changed_hosts c WHERE c.new_status IS NOT NULL)
   GROUP BY pr.host
), host_changes AS (
  SELECT c.domain,
         string_agg(c.host || ': ' || coalesce(c.old_status::text, 'not an MX host') || ' -> '
                    || coalesce(c.new_status::text, 'not an MX host')
                    || coalesce(' (' || CASE WHEN c.new_status IS NOT NULL THEN r.results END || ')', ''),
                    '; ' ORDER BY c.host) AS hosts
    FROM changed_hosts c
    LEFT JOIN probe_reasons r ON r.host = c.host
   GROUP BY c.domain
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
