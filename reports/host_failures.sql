-- Report table "host_failures": MX hosts whose status is a failure
-- (dane-failed, dane-unreachable, tlsa-unusable, tlsa-failed, address-failed,
-- no-address), with the recorded cause (TLSA lookup failure or EDE, else the
-- address results seen), the domains they serve and three example domains.
-- Hosts that are insecure or have no TLSA are not failures and not listed.
-- Plan (migration 009): the failed hosts of the scan's mx_hosts partition,
-- their probes and links by the (host) indexes of the scan's probes and
-- domain_mx partitions; every scan_id is the literal, so only the scan's
-- partitions are read.
-- psql variables: scan_id.
WITH failed AS (
  SELECT h.host, h.status, h.tlsa_failure, h.tlsa_ede_code, h.tlsa_ede_text, h.tlsa_rcode
    FROM mx_hosts h
   WHERE h.scan_id = :'scan_id'
     AND h.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed', 'address-failed', 'no-address')
), h AS (
  SELECT f.host, f.status,
         coalesce(f.tlsa_failure, 'EDE ' || f.tlsa_ede_code || ': ' || f.tlsa_ede_text,
                  (SELECT string_agg(DISTINCT p.result::text, '+' ORDER BY p.result::text) FROM probes p
                    WHERE p.scan_id = :'scan_id' AND p.host = f.host AND p.result <> 'authenticated'),
                  CASE WHEN f.tlsa_rcode IS DISTINCT FROM 'NOERROR' THEN f.tlsa_rcode END,
                  '') AS cause
    FROM failed f
), links AS (
  SELECT DISTINCT h.status, h.cause, m.seq, m.domain
    FROM h
    JOIN domain_mx m ON m.scan_id = :'scan_id' AND m.host = h.host
), served AS (
  SELECT status, cause, count(DISTINCT seq) AS domains FROM links GROUP BY status, cause
), first1 AS (
  -- The first three domains of a group, alphabetically: three min() passes
  -- instead of sorting every link.
  SELECT status, cause, min(domain) AS d1 FROM links GROUP BY status, cause
), first2 AS (
  SELECT l.status, l.cause, min(l.domain) AS d2
    FROM links l JOIN first1 f ON f.status = l.status AND f.cause = l.cause AND l.domain > f.d1
   GROUP BY l.status, l.cause
), first3 AS (
  SELECT l.status, l.cause, min(l.domain) AS d3
    FROM links l JOIN first2 f ON f.status = l.status AND f.cause = l.cause AND l.domain > f.d2
   GROUP BY l.status, l.cause
), examples AS (
  SELECT f1.status, f1.cause, concat_ws(', ', f1.d1, f2.d2, f3.d3) AS example_domains
    FROM first1 f1
    LEFT JOIN first2 f2 ON f2.status = f1.status AND f2.cause = f1.cause
    LEFT JOIN first3 f3 ON f3.status = f1.status AND f3.cause = f1.cause
), groups AS (
  SELECT status, cause, count(*) AS hosts FROM h GROUP BY status, cause
)
SELECT g.status::text AS status,
       g.cause,
       g.hosts,
       coalesce(s.domains, 0) AS domains,
       e.example_domains
  FROM groups g
  LEFT JOIN served s ON s.status = g.status AND s.cause = g.cause
  LEFT JOIN examples e ON e.status = g.status AND e.cause = g.cause
 ORDER BY g.status, g.hosts DESC, g.cause;
