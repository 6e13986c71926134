-- Report table "headline": the headline figures of one scan, as counts and
-- percentages of the domains scanned, with the previous scan's counts and the
-- change. "secure MX" follows schema/README.md (domain_summary): a secure MX
-- RRset and at least one MX host with secure addresses. "DANE valid" counts
-- every dane-valid domain, and a second line counts those with a secure MX
-- RRset (the downgrade-resistant case, RESULTS.md). Not applicable (no DANE
-- possible or wanted: nxdomain, null-mx, no-mail, insecure) is its own line,
-- apart from the failures.
-- psql variables: scan_id, previous_id ('' when there is none).
WITH counts AS (
  SELECT scan_id,
         count(*) AS domains,
         count(*) FILTER (WHERE mx_count > 0) AS with_mail,
         count(*) FILTER (WHERE mx_dnssec = 'secure') AS signed,
         count(*) FILTER (WHERE mx_dnssec = 'secure' AND any_secure_host) AS secure_mx,
         count(*) FILTER (WHERE any_tlsa) AS with_tlsa,
         count(*) FILTER (WHERE status = 'dane-valid') AS dane_valid,
         count(*) FILTER (WHERE status = 'dane-valid' AND mx_dnssec = 'secure') AS dane_valid_secure_mx,
         count(*) FILTER (WHERE status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')) AS dane_failed,
         count(*) FILTER (WHERE status IN ('nxdomain', 'null-mx', 'no-mail', 'insecure')) AS not_applicable
    FROM domain_summary
   WHERE scan_id IN (:'scan_id', nullif(:'previous_id', ''))
   GROUP BY scan_id
), cur AS (
  SELECT * FROM counts WHERE scan_id = :'scan_id'
), prev AS (
  SELECT * FROM counts WHERE scan_id = nullif(:'previous_id', '')
)
SELECT v.figure,
       v.domains,
       round(100.0 * v.domains / nullif(c.domains, 0), 1) AS pct_of_scanned,
       v.previous,
       round(100.0 * v.previous / nullif(p.domains, 0), 1) AS previous_pct,
       v.domains - v.previous AS change
  FROM cur c
  LEFT JOIN prev p ON true
 CROSS JOIN LATERAL (VALUES
   (1, 'domains scanned', c.domains, p.domains),
   (2, 'with mail (MX or implicit MX)', c.with_mail, p.with_mail),
   (3, 'DNSSEC-signed (secure MX RRset)', c.signed, p.signed),
   (4, 'secure MX (secure MX RRset and MX host addresses)', c.secure_mx, p.secure_mx),
   (5, 'with TLSA (an MX host has secure TLSA)', c.with_tlsa, p.with_tlsa),
   (6, 'DANE valid (dane-valid, any MX RRset)', c.dane_valid, p.dane_valid),
   (7, 'DANE valid with a secure MX RRset', c.dane_valid_secure_mx, p.dane_valid_secure_mx),
   (8, 'DANE failed (dane-failed, dane-unreachable, tlsa-unusable)', c.dane_failed, p.dane_failed),
   (9, 'not applicable (nxdomain, null-mx, no-mail, insecure)', c.not_applicable, p.not_applicable)
 ) AS v(position, figure, domains, previous)
 ORDER BY v.position;
