-- Report table "providers_all": the 20 MX providers serving the most domains
-- (provider = registrable domain of the MX host name by the Public Suffix
-- List, see providers_dane.sql),
-- with their DANE share: domains with TLSA on one of the provider's hosts and
-- dane-valid domains, as a percentage of the domains they serve.
-- Counts come from danescan_provider_counts() (migrations 009 and 011: the scan's
-- summary, or the same counts computed from the raw rows).
-- psql variables: scan_id.
SELECT provider,
       domains,
       domains_with_tlsa,
       dane_valid_domains,
       round(100.0 * dane_valid_domains / domains, 1) AS pct_dane_valid
  FROM danescan_provider_counts(:'scan_id')
 ORDER BY domains DESC, provider
 LIMIT 20;
