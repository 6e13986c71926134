-- Report table "providers_dane": the top 20 MX providers by DANE-valid
-- domains, with the previous scan's count. A provider is the registrable
-- domain of an MX host name by the Public Suffix List (mx_hosts.provider,
-- migration 010: "mx1.example.co.uk" counts under "example.co.uk"; a host
-- named "co.uk" has no provider and is left out; hosts stored before the
-- migration fall back to the last two labels, danescan_host_provider). A
-- domain counts for every provider among its MX hosts.
-- psql variables: scan_id, previous_id ('' when there is none).
WITH links AS (
  SELECT m.scan_id, m.seq, d.status,
         danescan_host_provider(h.host, h.provider) AS provider
    FROM domain_mx m
    JOIN domains d ON d.scan_id = m.scan_id AND d.seq = m.seq
    JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
   WHERE m.scan_id IN (:'scan_id', nullif(:'previous_id', ''))
     AND danescan_host_provider(h.host, h.provider) IS NOT NULL
), per AS (
  SELECT provider,
         count(DISTINCT seq) FILTER (WHERE scan_id = :'scan_id' AND status = 'dane-valid') AS dane_valid_domains,
         count(DISTINCT seq) FILTER (WHERE scan_id = :'scan_id') AS domains,
         CASE WHEN nullif(:'previous_id', '') IS NOT NULL THEN
           count(DISTINCT seq) FILTER (WHERE scan_id = nullif(:'previous_id', '') AND status = 'dane-valid')
         END AS previous_dane_valid_domains
    FROM links
   GROUP BY provider
)
SELECT provider, dane_valid_domains, domains,
       round(100.0 * dane_valid_domains / nullif(domains, 0), 1) AS pct_dane_valid,
       previous_dane_valid_domains
  FROM per
 WHERE dane_valid_domains > 0
 ORDER BY dane_valid_domains DESC, domains DESC, provider
 LIMIT 20;
