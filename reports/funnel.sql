-- Report table "funnel": the adoption funnel of one scan, each stage a subset
-- of the one before (the downgrade-resistant path of RESULTS.md: every stage
-- after "with mail" requires a secure MX RRset).
-- psql variables: scan_id.
WITH s AS (
  SELECT * FROM domain_summary WHERE scan_id = :'scan_id'
), c AS (
  SELECT count(*) AS domains,
         count(*) FILTER (WHERE mx_count > 0) AS with_mail,
         count(*) FILTER (WHERE mx_count > 0 AND mx_dnssec = 'secure') AS signed,
         count(*) FILTER (WHERE mx_count > 0 AND mx_dnssec = 'secure' AND any_secure_host) AS secure_mx,
         count(*) FILTER (WHERE mx_count > 0 AND mx_dnssec = 'secure' AND any_secure_host AND any_tlsa) AS with_tlsa,
         count(*) FILTER (WHERE mx_count > 0 AND mx_dnssec = 'secure' AND any_secure_host AND any_tlsa
                            AND status = 'dane-valid') AS dane_valid
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
