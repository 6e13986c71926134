-- `danescan diff`, MX hosts: hosts in both scans whose status changed, with
-- the direction, the domains of the newer scan they serve, and the reason
-- (TLSA lookup failure, else the newer scan's failing address results).
-- Order of host statuses, best first (see diff_domains.sql for the rule):
--   4 dane-valid
--   3 no-tlsa, insecure (DANE not in use)
--   2 tlsa-unusable, dane-unreachable
--   1 dane-failed, tlsa-failed, address-failed, no-address
--   unranked: dane-unprobed
-- psql variables: from_scan, to_scan.
WITH host_rank(status, rank) AS (VALUES
  ('dane-valid'::host_status, 4), ('no-tlsa', 3), ('insecure', 3),
  ('tlsa-unusable', 2), ('dane-unreachable', 2),
  ('dane-failed', 1), ('tlsa-failed', 1), ('address-failed', 1), ('no-address', 1)
)
SELECT CASE WHEN ro.rank IS NULL OR rn.rank IS NULL OR ro.rank = rn.rank THEN 'changed'
            WHEN rn.rank < ro.rank THEN 'worse' ELSE 'better' END AS direction,
       n.host,
       o.status::text AS from_status,
       n.status::text AS to_status,
       (SELECT count(DISTINCT m.seq) FROM domain_mx m WHERE m.scan_id = n.scan_id AND m.host = n.host) AS domains,
       coalesce(n.tlsa_failure, 'EDE ' || n.tlsa_ede_code || ': ' || n.tlsa_ede_text,
                (SELECT string_agg(host(pr.address) || ' ' || pr.result::text || coalesce(' ' || pr.reason, ''), '; '
                                   ORDER BY pr.address, pr.probe_no)
                   FROM probes pr
                  WHERE pr.scan_id = n.scan_id AND pr.host = n.host AND pr.result <> 'authenticated'),
                '') AS reason
  FROM mx_hosts n
  JOIN mx_hosts o ON o.host = n.host AND o.scan_id = :'from_scan'
  LEFT JOIN host_rank ro ON ro.status = o.status
  LEFT JOIN host_rank rn ON rn.status = n.status
 WHERE n.scan_id = :'to_scan' AND o.status IS DISTINCT FROM n.status
 ORDER BY 1 DESC, n.host;
