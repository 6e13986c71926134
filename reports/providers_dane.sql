-- Report table "providers_dane": the top 20 MX providers by DANE-valid
-- domains, with the previous scan's count. A provider is the registered
-- domain of an MX host name, approximated by its last two labels
-- (limitation: "mx.example.co.uk" counts under "co.uk"; no Public Suffix
-- List). A domain counts for every provider among its MX hosts.
-- psql variables: scan_id, previous_id ('' when there is none).
WITH links AS (
  SELECT m.scan_id, m.seq, d.status,
         coalesce(substring(m.host FROM '([^.]+\.[^.]+)$'), m.host) AS provider
    FROM domain_mx m
    JOIN domains d ON d.scan_id = m.scan_id AND d.seq = m.seq
   WHERE m.scan_id IN (:'scan_id', nullif(:'previous_id', ''))
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
