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
WITH scan_ids AS (
  SELECT id FROM (VALUES (:'scan_id'), (nullif(:'previous_id', ''))) v(id) WHERE id IS NOT NULL
), unreachable AS (
  -- hosts none of whose probes got past the connection (accept no connections)
  SELECT p.scan_id, p.host
    FROM probes p
   WHERE p.scan_id IN (SELECT id FROM scan_ids)
   GROUP BY p.scan_id, p.host
  HAVING bool_and(p.result IN ('connect-failed', 'timeout', 'smtp-failed'))
), links AS (
  SELECT m.scan_id, m.seq, m.preference, h.status,
         h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0 AS has_tlsa,
         h.status NOT IN ('dane-unreachable', 'no-address') AND u.host IS NULL AS accepts,
         m.preference = min(m.preference) OVER (PARTITION BY m.scan_id, m.seq) AS is_primary
    FROM domain_mx m
    JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
    LEFT JOIN unreachable u ON u.scan_id = m.scan_id AND u.host = m.host
   WHERE m.scan_id IN (SELECT id FROM scan_ids)
), per_domain AS (
  SELECT scan_id, seq,
         count(*) FILTER (WHERE is_primary AND accepts) AS primaries_accepting,
         coalesce(bool_and(status = 'dane-valid') FILTER (WHERE is_primary AND accepts), false) AS primaries_valid,
         bool_or(has_tlsa) AS some_tlsa,
         bool_or(status IN ('no-tlsa', 'insecure')) AS some_without_tlsa
    FROM links
   GROUP BY scan_id, seq
), survey AS (
  SELECT d.scan_id,
         count(*) FILTER (WHERE pd.primaries_accepting > 0 AND pd.primaries_valid) AS numerator,
         count(*) AS denominator
    FROM domains d
    LEFT JOIN per_domain pd ON pd.scan_id = d.scan_id AND pd.seq = d.seq
   WHERE d.scan_id IN (SELECT id FROM scan_ids)
     AND d.mx_dnssec = 'secure' AND d.mx_count > 0 AND d.implicit_mx IS NOT TRUE AND d.status <> 'null-mx'
   GROUP BY d.scan_id
), partial AS (
  SELECT scan_id, count(*) FILTER (WHERE some_without_tlsa) AS numerator, count(*) AS denominator
    FROM per_domain
   WHERE some_tlsa
   GROUP BY scan_id
), rrsets AS (
  SELECT h.scan_id,
         count(*) FILTER (WHERE h.tlsa_dnssec IN ('bogus', 'insecure')) AS numerator,
         count(*) AS denominator
    FROM mx_hosts h
   WHERE h.scan_id IN (SELECT id FROM scan_ids)
     AND (h.tlsa_dnssec = 'bogus' OR (h.tlsa_count > 0 AND h.tlsa_dnssec IN ('secure', 'insecure')))
   GROUP BY h.scan_id
), served AS (
  -- certificates each host's addresses sent, with their depth (0 = leaf)
  SELECT DISTINCT c.scan_id, c.host, c.depth, c.cert_sha256
    FROM probe_chain c
   WHERE c.scan_id IN (SELECT id FROM scan_ids)
), records AS (
  SELECT t.scan_id, t.host, t.position, t.usage, t.selector, t.matching_type, t.data
    FROM tlsa_records t
    JOIN mx_hosts h ON h.scan_id = t.scan_id AND h.host = t.host
   WHERE t.scan_id IN (SELECT id FROM scan_ids) AND h.tlsa_dnssec = 'secure'
     AND EXISTS (SELECT 1 FROM served s WHERE s.scan_id = t.scan_id AND s.host = t.host)
), matched AS (
  SELECT r.scan_id, r.host, r.position
    FROM records r
    JOIN served s ON s.scan_id = r.scan_id AND s.host = r.host AND (r.usage IN (0, 2) OR s.depth = 0)
    JOIN certificates k ON k.sha256 = s.cert_sha256
   WHERE (r.selector = 0 AND r.matching_type = 0 AND k.der = r.data)
      OR (r.selector = 0 AND r.matching_type = 1 AND k.sha256 = r.data)
      OR (r.selector = 0 AND r.matching_type = 2 AND sha512(k.der) = r.data)
      OR (r.selector = 1 AND r.matching_type = 1 AND k.spki_sha256 = r.data)
  UNION
  SELECT p.scan_id, p.host, p.matched_tlsa
    FROM probes p
   WHERE p.scan_id IN (SELECT id FROM scan_ids) AND p.matched_tlsa IS NOT NULL
), mismatch AS (
  SELECT r.scan_id, count(*) FILTER (WHERE m.host IS NULL) AS numerator, count(*) AS denominator
    FROM records r
    LEFT JOIN matched m ON m.scan_id = r.scan_id AND m.host = r.host AND m.position = r.position
   GROUP BY r.scan_id
), metrics AS (
  SELECT 1 AS position, scan_id, numerator, denominator FROM survey
  UNION ALL SELECT 2, scan_id, numerator, denominator FROM rrsets
  UNION ALL SELECT 3, scan_id, numerator, denominator FROM mismatch
  UNION ALL SELECT 4, scan_id, numerator, denominator FROM partial
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
