-- Report table "host_failures": MX hosts whose status is a failure
-- (dane-failed, dane-unreachable, tlsa-unusable, tlsa-failed, address-failed,
-- no-address), with the recorded cause (TLSA lookup failure or EDE, else the
-- address results seen), the domains they serve and three example domains.
-- Hosts that are insecure or have no TLSA are not failures and not listed.
-- psql variables: scan_id.
WITH h AS (
  SELECT h.host, h.status,
         coalesce(h.tlsa_failure, 'EDE ' || h.tlsa_ede_code || ': ' || h.tlsa_ede_text,
                  (SELECT string_agg(DISTINCT p.result::text, '+' ORDER BY p.result::text) FROM probes p
                    WHERE p.scan_id = h.scan_id AND p.host = h.host AND p.result <> 'authenticated'),
                  CASE WHEN h.tlsa_rcode IS DISTINCT FROM 'NOERROR' THEN h.tlsa_rcode END,
                  '') AS cause
    FROM mx_hosts h
   WHERE h.scan_id = :'scan_id'
     AND h.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed', 'address-failed', 'no-address')
)
SELECT h.status::text AS status,
       h.cause,
       count(*) AS hosts,
       (SELECT count(DISTINCT m.seq) FROM domain_mx m
         WHERE m.scan_id = :'scan_id'
           AND m.host IN (SELECT x.host FROM h x WHERE x.status = h.status AND x.cause = h.cause)) AS domains,
       (SELECT string_agg(y.domain, ', ' ORDER BY y.domain) FROM
          (SELECT DISTINCT m.domain FROM domain_mx m
            WHERE m.scan_id = :'scan_id'
              AND m.host IN (SELECT x.host FROM h x WHERE x.status = h.status AND x.cause = h.cause)
            ORDER BY m.domain LIMIT 3) y) AS example_domains
  FROM h
 GROUP BY h.status, h.cause
 ORDER BY h.status, count(*) DESC, h.cause;
