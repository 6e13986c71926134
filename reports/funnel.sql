-- Report table "funnel": the adoption funnel of one scan, each stage a subset
-- of the one before (the downgrade-resistant path of RESULTS.md: every stage
-- after "with mail" requires a secure MX RRset). "scanned" leaves out the
-- domains opted out by the scan's blocklist (skipped: never looked up).
-- Counts come from danescan_domain_counts() (migration 009).
-- psql variables: scan_id.
WITH s AS (
  SELECT * FROM danescan_domain_counts(:'scan_id')
), c AS (
  SELECT coalesce(sum(domains) FILTER (WHERE status <> 'skipped'), 0) AS domains,
         coalesce(sum(domains) FILTER (WHERE with_mail), 0) AS with_mail,
         coalesce(sum(domains) FILTER (WHERE with_mail AND mx_dnssec = 'secure'), 0) AS signed,
         coalesce(sum(domains) FILTER (WHERE with_mail AND mx_dnssec = 'secure' AND any_secure_host), 0) AS secure_mx,
         coalesce(sum(domains) FILTER (WHERE with_mail AND mx_dnssec = 'secure' AND any_secure_host AND any_tlsa), 0)
           AS with_tlsa,
         coalesce(sum(domains) FILTER (WHERE with_mail AND mx_dnssec = 'secure' AND any_secure_host AND any_tlsa
                                         AND status = 'dane-valid'), 0) AS dane_valid
    FROM s
)
SELECT v.stage, v.domains, round(100.0 * v.domains / nullif(c.domains, 0), 1) AS pct_of_scanned
  FROM c
 CROSS JOIN LATERAL (VALUES
   (1, 'scanned', c.domains),
   (2, 'with mail', c.with_mail),
   (3, 'DNSSEC-signed MX', c.signed),
   (4, 'secure MX', c.secure_mx),
   (5, 'with TLSA', c.with_tlsa),
   (6, 'DANE valid', c.dane_valid)
 ) AS v(position, stage, domains)
 ORDER BY v.position;
