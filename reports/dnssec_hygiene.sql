-- Report table "dnssec_hygiene" (issue 19): the DNSSEC hygiene of the zones
-- that matter to DANE domains (the domain's MX zone and its hosts' TLSA
-- zones; domain_dnssec_zones, migration 015), among the DANE domains that
-- have zone rows (a DANE status; with the default --dnssec-hygiene dane
-- every DANE domain of the scan has them). One row per finding: the
-- algorithm mix (a domain counts under every DNSKEY algorithm of its zones),
-- NSEC or NSEC3 and the RFC 9276 verdicts of the NSEC3 parameters, the SHA-1
-- DS share, RFC 8624 findings, and signatures (DNSKEY, MX or TLSA) expiring
-- within 7 and 30 days of the scan's start and within the scan's warn days
-- (rrsig-expires-soon). domains: DANE domains with the finding; pct: of the
-- DANE domains with zone rows; zones: distinct zones with it.
-- psql variables: scan_id.
WITH dane AS (
  SELECT z.seq, z.zone, z.key_algorithms, z.ds_digest_types, z.denial, z.nsec3_verdict, z.rrsig_expires, z.flags
    FROM domain_dnssec_zones z
    JOIN domains d ON d.scan_id = z.scan_id AND d.seq = z.seq
   WHERE z.scan_id = :'scan_id'
     AND d.scan_id = :'scan_id'
     AND d.status IN ('dane-valid', 'dane-partial', 'dane-failed', 'dane-unreachable', 'tlsa-unusable',
                      'dane-unprobed')
), started AS (
  SELECT started_at FROM scans WHERE id = :'scan_id'
), total AS (
  SELECT count(DISTINCT seq) AS domains FROM dane
), findings AS (
  SELECT 1 AS section, 'DANE domains with zone data' AS finding, seq, zone FROM dane
  UNION ALL
  SELECT 2, 'algorithm ' || a.alg || ' ' ||
            CASE a.alg WHEN 1 THEN 'RSAMD5' WHEN 3 THEN 'DSA' WHEN 5 THEN 'RSASHA1' WHEN 6 THEN 'DSA-NSEC3-SHA1'
                       WHEN 7 THEN 'RSASHA1-NSEC3-SHA1' WHEN 8 THEN 'RSASHA256' WHEN 10 THEN 'RSASHA512'
                       WHEN 12 THEN 'ECC-GOST' WHEN 13 THEN 'ECDSAP256SHA256' WHEN 14 THEN 'ECDSAP384SHA384'
                       WHEN 15 THEN 'ED25519' WHEN 16 THEN 'ED448' ELSE 'unknown' END,
         dane.seq, dane.zone
    FROM dane, LATERAL (SELECT DISTINCT unnest(dane.key_algorithms) AS alg) a
  UNION ALL
  SELECT 3, 'algorithm MUST NOT or NOT RECOMMENDED for signing (RFC 8624)', seq, zone FROM dane
   WHERE flags && ARRAY['alg-must-not', 'alg-not-recommended']::text[]
  UNION ALL
  SELECT 4, 'denial NSEC', seq, zone FROM dane WHERE denial = 'nsec'
  UNION ALL
  SELECT 5, 'denial NSEC3, RFC 9276 ' || nsec3_verdict, seq, zone FROM dane WHERE denial = 'nsec3'
  UNION ALL
  SELECT 6, 'NSEC3 with a salt', seq, zone FROM dane WHERE 'nsec3-salt' = ANY (flags)
  UNION ALL
  SELECT 7, 'SHA-1 DS (digest type 1) in the parent', seq, zone FROM dane WHERE 1 = ANY (ds_digest_types)
  UNION ALL
  SELECT 7, 'SHA-1 DS only', seq, zone FROM dane
   WHERE ds_digest_types <> '{}' AND ds_digest_types <@ ARRAY[1]::smallint[]
  UNION ALL
  SELECT 8, 'signatures expiring within 7 days', seq, zone FROM dane, started
   WHERE rrsig_expires < started.started_at + interval '7 days'
  UNION ALL
  SELECT 8, 'signatures expiring within 30 days', seq, zone FROM dane, started
   WHERE rrsig_expires < started.started_at + interval '30 days'
  UNION ALL
  SELECT 8, 'signatures expiring within the warn days (rrsig-expires-soon)', seq, zone FROM dane
   WHERE 'rrsig-expires-soon' = ANY (flags)
)
SELECT f.finding, count(DISTINCT f.seq) AS domains,
       round(100.0 * count(DISTINCT f.seq) / nullif(t.domains, 0), 1) AS pct,
       count(DISTINCT f.zone) AS zones
  FROM findings f, total t
 GROUP BY f.section, f.finding, t.domains
 ORDER BY f.section, count(DISTINCT f.seq) DESC, f.finding;
