-- Report table "probe_failures": per-address results other than
-- authenticated. "applies" keeps failures of DANE hosts (usable secure TLSA:
-- host status dane-valid, dane-failed, dane-unreachable) apart from results on
-- hosts where DANE does not apply ("not applicable": unauthenticated TLS or a
-- failed connection to a host without usable TLSA is not a DANE failure).
-- Example domains: the first three (alphabetically) served by such a host.
-- Plan: one pass over the scan's probes and mx_hosts partitions, one over its
-- domain_mx partition (joined by host), no per-group subqueries.
-- psql variables: scan_id.
WITH p AS (
  SELECT p.result, p.host, p.address,
         CASE WHEN h.status IN ('dane-valid', 'dane-failed', 'dane-unreachable') THEN 'DANE host'
              ELSE 'not applicable' END AS applies
    FROM probes p
    JOIN mx_hosts h ON h.scan_id = :'scan_id' AND h.host = p.host
   WHERE p.scan_id = :'scan_id' AND p.result <> 'authenticated'
), groups AS (
  SELECT result, applies, count(DISTINCT (host, address)) AS addresses, count(DISTINCT host) AS hosts
    FROM p
   GROUP BY result, applies
), group_hosts AS (
  SELECT DISTINCT result, applies, host FROM p
), links AS (
  SELECT g.result, g.applies, m.seq, m.domain
    FROM group_hosts g
    JOIN domain_mx m ON m.scan_id = :'scan_id' AND m.host = g.host
), served AS (
  SELECT result, applies, count(DISTINCT seq) AS domains FROM links GROUP BY result, applies
), examples AS (
  SELECT result, applies, string_agg(domain, ', ' ORDER BY domain) AS example_domains
    FROM (SELECT DISTINCT result, applies, domain
            FROM (SELECT result, applies, domain,
                         dense_rank() OVER (PARTITION BY result, applies ORDER BY domain) AS n
                    FROM links) ranked
           WHERE n <= 3) x
   GROUP BY result, applies
)
SELECT g.result::text AS result,
       g.applies,
       g.addresses,
       g.hosts,
       coalesce(s.domains, 0) AS domains,
       e.example_domains
  FROM groups g
  LEFT JOIN served s ON s.result = g.result AND s.applies = g.applies
  LEFT JOIN examples e ON e.result = g.result AND e.applies = g.applies
 ORDER BY g.applies, g.addresses DESC, g.result;
