-- `danescan diff`, MTA-STS and TLS-RPT (issue 18): domains checked for
-- MTA-STS in both scans (`scan --mta-sts`) whose mta_sts.status or
-- tlsrpt_record.status changed, one row per change (kind 'mta-sts' or
-- 'tlsrpt'), with the direction and the newer scan's failure as reason.
-- Order, best first (a move down is "worse", up "better", between equal
-- ranks "changed"):
--   mta-sts: 3 valid; 2 none, mode-none (not in use); 1 record-invalid,
--            policy-unavailable, policy-invalid, mx-mismatch, cert-invalid,
--            cert-unchecked
--   tlsrpt:  3 valid; 2 none; 1 invalid
-- psql variables: from_scan, to_scan.
WITH pairs AS (
  SELECT n.domain, o.status AS old_status, n.status AS new_status, n.failure AS new_failure,
         o.tlsrpt_status AS old_tlsrpt, n.tlsrpt_status AS new_tlsrpt, n.tlsrpt_failure AS new_tlsrpt_failure
    FROM domain_mta_sts n
    JOIN domain_mta_sts o ON o.domain = n.domain AND o.scan_id = :'from_scan'
   WHERE n.scan_id = :'to_scan'
     AND (o.status <> n.status OR o.tlsrpt_status <> n.tlsrpt_status)
), changes AS (
  SELECT 'mta-sts' AS kind, domain, old_status::text AS from_status, new_status::text AS to_status,
         CASE WHEN old_status = 'valid' THEN 3 WHEN old_status IN ('none', 'mode-none') THEN 2 ELSE 1 END AS old_rank,
         CASE WHEN new_status = 'valid' THEN 3 WHEN new_status IN ('none', 'mode-none') THEN 2 ELSE 1 END AS new_rank,
         coalesce(new_failure, '') AS reason
    FROM pairs WHERE old_status <> new_status
  UNION ALL
  SELECT 'tlsrpt', domain, old_tlsrpt::text, new_tlsrpt::text,
         CASE old_tlsrpt WHEN 'valid' THEN 3 WHEN 'none' THEN 2 ELSE 1 END,
         CASE new_tlsrpt WHEN 'valid' THEN 3 WHEN 'none' THEN 2 ELSE 1 END,
         coalesce(new_tlsrpt_failure, '')
    FROM pairs WHERE old_tlsrpt <> new_tlsrpt
)
SELECT kind,
       CASE WHEN new_rank < old_rank THEN 'worse' WHEN new_rank > old_rank THEN 'better' ELSE 'changed' END
         AS direction,
       domain, from_status, to_status, reason
  FROM changes
 ORDER BY kind, direction DESC, domain;
