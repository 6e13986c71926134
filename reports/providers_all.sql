-- Report table "providers_all": the 20 MX providers serving the most domains
-- (provider = registrable domain of the MX host name by the Public Suffix
-- List, see providers_dane.sql),
-- with their DANE share: domains with TLSA on one of the provider's hosts and
-- dane-valid domains, as a percentage of the domains they serve.
-- psql variables: scan_id.
WITH links AS (
  SELECT m.seq, d.status, h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0 AS host_tlsa,
         danescan_host_provider(h.host, h.provider) AS provider
    FROM domain_mx m
    JOIN domains d ON d.scan_id = m.scan_id AND d.seq = m.seq
    JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
   WHERE m.scan_id = :'scan_id' AND danescan_host_provider(h.host, h.provider) IS NOT NULL
)
SELECT provider,
       count(DISTINCT seq) AS domains,
       count(DISTINCT seq) FILTER (WHERE host_tlsa) AS domains_with_tlsa,
       count(DISTINCT seq) FILTER (WHERE status = 'dane-valid') AS dane_valid_domains,
       round(100.0 * count(DISTINCT seq) FILTER (WHERE status = 'dane-valid') / count(DISTINCT seq), 1)
         AS pct_dane_valid
  FROM links
 GROUP BY provider
 ORDER BY count(DISTINCT seq) DESC, provider
 LIMIT 20;
