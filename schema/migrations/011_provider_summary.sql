-- Migration 011: the per-scan provider summary (migration 009) groups by the
-- provider of migration 010 (the registrable domain by the Public Suffix
-- List, danescan_host_provider: the stored column, or the last two labels
-- for hosts stored before 010); hosts named as a public suffix have no
-- provider and are left out, as in mx_providers. Summaries computed with the
-- old rule are forgotten, so the next report (or scan completion) computes
-- them again.
CREATE OR REPLACE FUNCTION danescan_provider_counts_sql(scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    WITH links AS (
      SELECT danescan_host_provider(h.host, h.provider) AS provider, m.seq,
             bool_or(h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0) AS host_tlsa
        FROM domain_mx m
        JOIN mx_hosts h ON h.scan_id = %1$L AND h.host = m.host
       WHERE m.scan_id = %1$L AND danescan_host_provider(h.host, h.provider) IS NOT NULL
       GROUP BY 1, 2
    ), per AS (
      SELECT l.provider, count(*) AS domains,
             count(*) FILTER (WHERE l.host_tlsa) AS domains_with_tlsa,
             count(*) FILTER (WHERE d.status = 'dane-valid') AS dane_valid_domains
        FROM links l
        JOIN domains d ON d.scan_id = %1$L AND d.seq = l.seq
       GROUP BY l.provider
    )
    SELECT provider, domains, domains_with_tlsa, dane_valid_domains
      FROM (SELECT per.*, row_number() OVER (ORDER BY domains DESC, provider) AS by_domains FROM per) r
     WHERE by_domains <= 100 OR domains_with_tlsa > 0 OR dane_valid_domains > 0$q$, scan)
$$;

DELETE FROM scan_provider_counts;
DELETE FROM scan_summaries;
