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
-- The names in both scans and the changed ones come from the pair summary
-- (migration 018: danescan_pair_counts and danescan_pair_changes, or the
-- same rows from the raw rows: the two scans' domains joined by name, TLSA
-- from the links of their hosts with TLSA); every counted change differs in
-- status or TLSA, so the unchanged names need not be read.
WITH pairs AS (
  SELECT c.new_status AS status, c.old_status AS previous_status, c.new_tlsa AS tlsa, c.old_tlsa AS previous_tlsa
    FROM danescan_pair_changes(:'scan_id', nullif(:'previous_id', '')) c
), absent AS (
  SELECT ARRAY['no-dane', 'insecure', 'no-mail', 'null-mx', 'nxdomain']::domain_status[] AS s
), counts AS (
  SELECT (SELECT names_in_both FROM danescan_pair_counts(:'scan_id', nullif(:'previous_id', ''))) AS compared,
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
