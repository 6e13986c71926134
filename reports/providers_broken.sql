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
-- Counts from danescan_providers_broken() (migration 018: the scan's
-- summary, or the same counts from the raw rows: the domain_mx, domains and
-- mx_hosts of the scan, counted per provider as described above).
SELECT provider, broken_domains, failing_hosts, domains_with_tlsa,
       round(100.0 * broken_domains / nullif(domains_with_tlsa, 0), 1) AS pct_broken_of_tlsa
  FROM danescan_providers_broken(:'scan_id')
 WHERE broken_domains > 0
 ORDER BY broken_domains DESC, failing_hosts DESC, provider
 LIMIT 20;
