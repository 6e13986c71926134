-- Report table "headline": the headline figures of one scan, as counts and
-- percentages of the domains scanned, with the previous scan's counts and the
-- change. "secure MX" follows schema/README.md (domain_summary): a secure MX
-- RRset and at least one MX host with secure addresses. "DANE valid" counts
-- every dane-valid domain, and a second line counts those with a secure MX
-- RRset (the downgrade-resistant case, RESULTS.md). Not applicable (no DANE
-- possible or wanted: nxdomain, null-mx, no-mail, insecure) is its own line,
-- apart from the failures. Domains opted out by the scan's blocklist
-- (skipped: never looked up) are not scanned: they are left out of "domains
-- scanned" and every percentage, and counted on a line of their own.
-- Counts come from danescan_domain_counts() (migration 009: the scan's
-- summary, or the same sums computed from the raw rows when it has none).
-- psql variables: scan_id, previous_id ('' when there is none).
WITH counts AS (
  SELECT x.scan_id,
         coalesce(sum(c.domains) FILTER (WHERE c.status <> 'skipped'), 0) AS domains,
         coalesce(sum(c.domains) FILTER (WHERE c.status = 'skipped'), 0) AS skipped,
         coalesce(sum(c.domains) FILTER (WHERE c.with_mail), 0) AS with_mail,
         coalesce(sum(c.domains) FILTER (WHERE c.mx_dnssec = 'secure'), 0) AS signed,
         coalesce(sum(c.domains) FILTER (WHERE c.mx_dnssec = 'secure' AND c.any_secure_host), 0) AS secure_mx,
         coalesce(sum(c.domains) FILTER (WHERE c.any_tlsa), 0) AS with_tlsa,
         coalesce(sum(c.domains) FILTER (WHERE c.status = 'dane-valid'), 0) AS dane_valid,
         coalesce(sum(c.domains) FILTER (WHERE c.status = 'dane-valid' AND c.mx_dnssec = 'secure'), 0)
           AS dane_valid_secure_mx,
         coalesce(sum(c.domains) FILTER (WHERE c.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')), 0)
           AS dane_failed,
         coalesce(sum(c.domains) FILTER (WHERE c.status IN ('nxdomain', 'null-mx', 'no-mail', 'insecure')), 0)
           AS not_applicable
    FROM (SELECT :'scan_id' AS scan_id UNION ALL SELECT nullif(:'previous_id', '')) x
   CROSS JOIN LATERAL danescan_domain_counts(x.scan_id) c
   WHERE x.scan_id IS NOT NULL
   GROUP BY x.scan_id
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
   (9, 'not applicable (nxdomain, null-mx, no-mail, insecure)', c.not_applicable, p.not_applicable),
   (10, 'opted out (skipped: in the blocklist, not scanned)', c.skipped, p.skipped)
 ) AS v(position, figure, domains, previous)
 ORDER BY v.position;
