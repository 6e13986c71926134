-- Report table "dane_mta_sts": DANE and MTA-STS side by side (issue 18,
-- shared/spec/MTA-STS.md) over the domains with mail that the scan checked
-- for MTA-STS (`scan --mta-sts`; no rows otherwise): DANE only, MTA-STS only
-- by policy mode ("no valid policy" when the record exists but no policy
-- was read), both, neither; how many of each fail DANE (dane-failed,
-- dane-unreachable, tlsa-unusable) and MTA-STS (record-invalid,
-- policy-unavailable, policy-invalid, mx-mismatch, cert-invalid, cert-unchecked); and how
-- many publish a valid TLS-RPT record. DANE: TLSA published under DNSSEC,
-- whatever its verdict; MTA-STS: a v=STSv1 record, whatever its verdict
-- (view dane_mta_sts, migration 014).
-- psql variables: scan_id.
WITH d AS (
  SELECT v.dane_status, v.mta_sts_status, v.tlsrpt,
         CASE WHEN v.deployment = 'mta-sts-only'
              THEN 'mta-sts-only (' || coalesce(v.mta_sts_mode::text, 'no valid policy') || ')'
              ELSE v.deployment END AS deployment,
         CASE v.deployment WHEN 'dane-only' THEN 1 WHEN 'mta-sts-only' THEN 2 WHEN 'both' THEN 3 ELSE 4 END AS ord
    FROM dane_mta_sts v
   WHERE v.scan_id = :'scan_id'
)
SELECT deployment,
       count(*) AS domains,
       round(100.0 * count(*) / nullif(sum(count(*)) OVER (), 0), 1) AS pct_of_checked,
       count(*) FILTER (WHERE dane_status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')) AS dane_failing,
       count(*) FILTER (WHERE mta_sts_status IN ('record-invalid', 'policy-unavailable', 'policy-invalid',
                                                 'mx-mismatch', 'cert-invalid', 'cert-unchecked')) AS mta_sts_failing,
       count(*) FILTER (WHERE tlsrpt) AS with_tlsrpt,
       round(100.0 * count(*) FILTER (WHERE tlsrpt) / nullif(count(*), 0), 1) AS pct_with_tlsrpt
  FROM d
 GROUP BY deployment, ord
 ORDER BY ord, deployment;
