-- Report table "dane_adoption": adoption and abandonment between the previous
-- scan and this one, over the names in both scans (input_change.sql warns
-- when the input set changed). "TLSA" means at least one MX host with a
-- secure, non-empty TLSA RRset (as domain_summary.any_tlsa).
--   adopted: TLSA now; before, no TLSA with a status that says none was
--     published (no-dane, insecure, no-mail, null-mx, nxdomain), so a
--     failed lookup before is not counted as an adoption
--   abandoned: TLSA before; now none, with such a status (a failed lookup or
--     a bogus TLSA answer now is not an abandonment)
--   newly dane-valid / no longer dane-valid: the status moved to or from
--     dane-valid
-- Share: of the names in both scans.
-- psql variables: scan_id, previous_id ('' gives no rows).
WITH tlsa AS (
  -- domains (scan, seq) with an MX host with a secure, non-empty TLSA RRset
  SELECT DISTINCT m.scan_id, m.seq
    FROM domain_mx m
    JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
   WHERE m.scan_id IN (:'scan_id', nullif(:'previous_id', '')) AND h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0
), cur AS (
  SELECT d.domain, d.status, t.seq IS NOT NULL AS tlsa
    FROM domains d
    LEFT JOIN tlsa t ON t.scan_id = d.scan_id AND t.seq = d.seq
   WHERE d.scan_id = :'scan_id'
), prev AS (
  SELECT d.domain, d.status, t.seq IS NOT NULL AS tlsa
    FROM domains d
    LEFT JOIN tlsa t ON t.scan_id = d.scan_id AND t.seq = d.seq
   WHERE d.scan_id = nullif(:'previous_id', '')
), pairs AS (
  SELECT n.status, o.status AS previous_status, n.tlsa, o.tlsa AS previous_tlsa
    FROM cur n
    JOIN prev o ON o.domain = n.domain
), absent AS (
  SELECT ARRAY['no-dane', 'insecure', 'no-mail', 'null-mx', 'nxdomain']::domain_status[] AS s
), counts AS (
  SELECT count(*) AS compared,
         count(*) FILTER (WHERE tlsa AND NOT previous_tlsa AND previous_status = ANY (absent.s)) AS adopted,
         count(*) FILTER (WHERE previous_tlsa AND NOT tlsa AND status = ANY (absent.s)) AS abandoned,
         count(*) FILTER (WHERE status = 'dane-valid' AND previous_status <> 'dane-valid') AS newly_valid,
         count(*) FILTER (WHERE previous_status = 'dane-valid' AND status <> 'dane-valid') AS no_longer_valid
    FROM pairs, absent
)
SELECT v.change, v.domains, round(100.0 * v.domains / nullif(c.compared, 0), 1) AS pct_of_compared
  FROM counts c
 CROSS JOIN LATERAL (VALUES
   (1, 'names in both scans (compared)', c.compared),
   (2, 'adopted: TLSA published', c.adopted),
   (3, 'abandoned: TLSA removed', c.abandoned),
   (4, 'newly dane-valid', c.newly_valid),
   (5, 'no longer dane-valid', c.no_longer_valid)
 ) AS v(position, change, domains)
 WHERE nullif(:'previous_id', '') IS NOT NULL
 ORDER BY v.position;
