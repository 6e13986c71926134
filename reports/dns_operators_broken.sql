-- Report table "dns_operators_broken": the 20 DNS operators with the most
-- broken DANE domains. A DNS operator is the registrable domain (eTLD+1,
-- Public Suffix List) of the name servers the parent zone delegates the
-- domain to: the NS records of the zone-file input (domain_dns_operators,
-- migration 017; no DNS query), or for list and CSV inputs scanned with
-- --ns-lookup the NS RRset at the domain. A domain whose name servers belong to
-- several operators counts for each. DANE domains: status dane-valid,
-- dane-partial, dane-failed, dane-unreachable, tlsa-unusable or
-- dane-unprobed; broken: dane-failed, dane-unreachable or tlsa-unusable (as
-- providers_broken.sql); dane_failed: of those, dane-failed. Share: broken
-- of the operator's DANE domains. The first row, "(no NS data)", counts the
-- DANE domains without an operator: read from a list or CSV input, which
-- has no NS records (unless scan --ns-lookup looked them up: the same rows
-- then; still none for a name that is no zone apex or whose lookup failed).
-- Operator "(public suffix)": NS targets whose name has no registrable
-- domain.
-- psql variables: scan_id.
WITH dane AS (
  SELECT d.seq, d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable') AS broken,
         d.status = 'dane-failed' AS failed
    FROM domains d
   WHERE d.scan_id = :'scan_id'
     AND d.status IN ('dane-valid', 'dane-partial', 'dane-failed', 'dane-unreachable', 'tlsa-unusable',
                      'dane-unprobed')
), attributed AS (
  SELECT x.seq, x.broken, x.failed, o.operator
    FROM dane x
    LEFT JOIN domain_dns_operators o ON o.scan_id = :'scan_id' AND o.seq = x.seq
), per AS (
  SELECT CASE WHEN operator IS NULL THEN '(no NS data)'
              WHEN operator = '' THEN '(public suffix)'
              ELSE operator END AS operator,
         operator IS NULL AS no_ns,
         count(*) FILTER (WHERE broken) AS broken_domains,
         count(*) FILTER (WHERE failed) AS dane_failed,
         count(*) AS dane_domains
    FROM attributed
   GROUP BY 1, 2
), ranked AS (
  SELECT *, row_number() OVER (ORDER BY broken_domains DESC, dane_domains DESC, operator) AS n
    FROM per
   WHERE NOT no_ns
)
SELECT operator, broken_domains, dane_failed, dane_domains,
       round(100.0 * broken_domains / nullif(dane_domains, 0), 1) AS pct_broken
  FROM (SELECT 0 AS n, * FROM per WHERE no_ns
        UNION ALL
        SELECT n, operator, no_ns, broken_domains, dane_failed, dane_domains FROM ranked WHERE n <= 20) t
 ORDER BY n;
