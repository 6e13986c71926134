-- Report table "providers_dane": the top 20 MX providers by DANE-valid
-- domains, with the previous scan's count. A provider is the registrable
-- domain of an MX host name by the Public Suffix List (mx_hosts.provider,
-- migration 010: "mx1.example.co.uk" counts under "example.co.uk"; a host
-- named "co.uk" has no provider and is left out; hosts stored before the
-- migration fall back to the last two labels, danescan_host_provider). A
-- domain counts for every provider among its MX hosts.
-- Counts come from danescan_provider_counts() (migrations 009 and 011: the
-- scan's summary, or the same counts from the raw rows), which keeps every
-- provider with dane-valid domains.
-- psql variables: scan_id, previous_id ('' when there is none).
SELECT c.provider, c.dane_valid_domains, c.domains,
       round(100.0 * c.dane_valid_domains / nullif(c.domains, 0), 1) AS pct_dane_valid,
       CASE WHEN nullif(:'previous_id', '') IS NOT NULL THEN coalesce(p.dane_valid_domains, 0) END
         AS previous_dane_valid_domains
  FROM danescan_provider_counts(:'scan_id') c
  LEFT JOIN danescan_provider_counts(nullif(:'previous_id', '')) p ON p.provider = c.provider
 WHERE c.dane_valid_domains > 0
 ORDER BY c.dane_valid_domains DESC, c.domains DESC, c.provider
 LIMIT 20;
