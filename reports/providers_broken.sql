-- Report table "providers_broken": the 20 MX providers with the most broken
-- DANE domains (domain status dane-failed, dane-unreachable or
-- tlsa-unusable), the domain counted for the provider of each of its MX hosts
-- that is itself a failure (host status dane-failed, dane-unreachable,
-- tlsa-unusable, tlsa-failed). Provider: the registrable domain of the MX
-- host name by the Public Suffix List (providers_dane.sql). TLSA records
-- live in the MX host's zone, so the MX provider's DNS is what publishes
-- them; the DNS operator of the domain's own zone (its NS records in a
-- zone input) is dns_operators_broken.sql's. Share: broken domains of the
-- domains with TLSA on one of the provider's hosts.
-- psql variables: scan_id.
WITH links AS (
  SELECT m.seq, d.status AS domain_status, h.host, h.status AS host_status,
         h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0 AS host_tlsa,
         danescan_host_provider(h.host, h.provider) AS provider
    FROM domain_mx m
    JOIN domains d ON d.scan_id = m.scan_id AND d.seq = m.seq
    JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
   WHERE m.scan_id = :'scan_id' AND danescan_host_provider(h.host, h.provider) IS NOT NULL
), per AS (
  SELECT provider,
         count(DISTINCT seq) FILTER (WHERE domain_status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')
                                       AND host_status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable',
                                                           'tlsa-failed')) AS broken_domains,
         count(DISTINCT host) FILTER (WHERE host_status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable',
                                                            'tlsa-failed')) AS failing_hosts,
         count(DISTINCT seq) FILTER (WHERE host_tlsa) AS domains_with_tlsa
    FROM links
   GROUP BY provider
)
SELECT provider, broken_domains, failing_hosts, domains_with_tlsa,
       round(100.0 * broken_domains / nullif(domains_with_tlsa, 0), 1) AS pct_broken_of_tlsa
  FROM per
 WHERE broken_domains > 0
 ORDER BY broken_domains DESC, failing_hosts DESC, provider
 LIMIT 20;
