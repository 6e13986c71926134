-- Report table "published_metrics": the metrics of published DANE
-- measurements, computed the same way on this scan and the previous one
-- (definitions and citations: reports/README.md, "Published metrics").
--   1 survey share (Dukhovni's survey, stats.dnssec-tools.org): domains
--     dane-valid at every primary MX host that accepts connections, over
--     domains whose MX answer is DNSSEC-validated. Primary: the MX hosts of
--     the lowest preference. Accepts connections: host status not
--     dane-unreachable or no-address, and not every probe of the host
--     connect-failed, timeout or smtp-failed. Denominator: secure MX RRset
--     with at least one MX host (no implicit MX, no null MX). Numerator: of
--     those, at least one primary host accepts connections and each that
--     does is dane-valid.
--   2 TLSA RRsets not DNSSEC-validated (Lee et al. 2020, "TLSA records that
--     cannot be validated due to missing or incorrect DNSSEC records"), per
--     MX host (one TLSA RRset each): TLSA lookup bogus, or records in an
--     insecure answer; over hosts whose TLSA lookup found records or was
--     bogus. TLSA is looked up only for hosts with secure addresses.
--   3 TLSA records that match no served certificate (Lee et al. 2020,
--     records "inconsistent with their certificates"): records of secure
--     RRsets of hosts that served at least one certificate, matching none
--     of the certificates the host's addresses sent (DANE-EE and PKIX-EE:
--     the leaf; DANE-TA and PKIX-TA: any certificate of the chain) by
--     selector and matching type (0 0, 0 1, 0 2, 1 1 recomputed from the
--     stored certificates; other combinations count as matching only when a
--     probe recorded the record as its match).
--   4 partial coverage: domains where some MX hosts have a secure, non-empty
--     TLSA RRset and others have none (host status no-tlsa or insecure),
--     over domains where at least one MX host has a secure, non-empty TLSA
--     RRset.
-- psql variables: scan_id, previous_id ('' when there is none).
-- The numerators and denominators come from danescan_published_metrics()
-- (migration 018: the scan's summary, or the same counts from the raw rows
-- with the CTEs that follow the definitions above).
WITH metrics AS (
  SELECT m.position, :'scan_id' AS scan_id, m.numerator, m.denominator
    FROM danescan_published_metrics(:'scan_id') m
  UNION ALL
  SELECT m.position, nullif(:'previous_id', ''), m.numerator, m.denominator
    FROM danescan_published_metrics(nullif(:'previous_id', '')) m
), names AS (
  SELECT * FROM (VALUES
    (1, 'survey share: DANE-valid at every primary MX host that accepts connections, of domains with a '
        'DNSSEC-validated MX answer', 'domains', 'Dukhovni, DANE survey (stats.dnssec-tools.org)'),
    (2, 'TLSA RRsets that cannot be DNSSEC-validated (bogus, or in an insecure answer)', 'MX hosts',
        'Lee et al., USENIX Security 2020'),
    (3, 'TLSA records that match no certificate the host served', 'TLSA records', 'Lee et al., USENIX Security 2020'),
    (4, 'partial coverage: TLSA on some MX hosts only, of domains with TLSA on any', 'domains',
        'this project (RESULTS.md)')) v(position, metric, unit, source)
)
SELECT n.metric, n.unit,
       coalesce(c.numerator, 0) AS numerator,
       coalesce(c.denominator, 0) AS denominator,
       round(100.0 * c.numerator / nullif(c.denominator, 0), 1) AS pct,
       CASE WHEN nullif(:'previous_id', '') IS NOT NULL THEN coalesce(p.numerator, 0) END AS previous_numerator,
       CASE WHEN nullif(:'previous_id', '') IS NOT NULL THEN coalesce(p.denominator, 0) END AS previous_denominator,
       round(100.0 * p.numerator / nullif(p.denominator, 0), 1) AS previous_pct,
       n.source
  FROM names n
  LEFT JOIN metrics c ON c.position = n.position AND c.scan_id = :'scan_id'
  LEFT JOIN metrics p ON p.position = n.position AND p.scan_id = nullif(:'previous_id', '')
 ORDER BY n.position;
