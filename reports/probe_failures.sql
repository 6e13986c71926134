-- Report table "probe_failures": per-address results other than
-- authenticated. "applies" keeps failures of DANE hosts (usable secure TLSA:
-- host status dane-valid, dane-failed, dane-unreachable) apart from results on
-- hosts where DANE does not apply ("not applicable": unauthenticated TLS or a
-- failed connection to a host without usable TLSA is not a DANE failure).
-- Example domains: the first three (alphabetically) served by such a host.
-- psql variables: scan_id.
WITH p AS (
  SELECT p.result, p.host, p.address,
         CASE WHEN h.status IN ('dane-valid', 'dane-failed', 'dane-unreachable') THEN 'DANE host'
              ELSE 'not applicable' END AS applies
    FROM probes p
    JOIN mx_hosts h ON h.scan_id = p.scan_id AND h.host = p.host
   WHERE p.scan_id = :'scan_id' AND p.result <> 'authenticated'
)
SELECT p.result::text AS result,
       p.applies,
       count(DISTINCT (p.host, p.address)) AS addresses,
       count(DISTINCT p.host) AS hosts,
       (SELECT count(DISTINCT m.seq) FROM domain_mx m
         WHERE m.scan_id = :'scan_id'
           AND m.host IN (SELECT q.host FROM p q WHERE q.result = p.result AND q.applies = p.applies)) AS domains,
       (SELECT string_agg(x.domain, ', ' ORDER BY x.domain) FROM
          (SELECT DISTINCT m.domain FROM domain_mx m
            WHERE m.scan_id = :'scan_id'
              AND m.host IN (SELECT q.host FROM p q WHERE q.result = p.result AND q.applies = p.applies)
            ORDER BY m.domain LIMIT 3) x) AS example_domains
  FROM p
 GROUP BY p.result, p.applies
 ORDER BY p.applies, count(DISTINCT (p.host, p.address)) DESC, p.result;
