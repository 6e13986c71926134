-- Report table "tld_adoption": adoption per TLD (the 30 TLDs with the most
-- domains), percentages of the TLD's domains with mail.
-- Counts come from danescan_domain_counts() (migration 009).
-- psql variables: scan_id.
SELECT tld,
       sum(domains) AS domains,
       coalesce(sum(domains) FILTER (WHERE with_mail), 0) AS with_mail,
       coalesce(sum(domains) FILTER (WHERE mx_dnssec = 'secure'), 0) AS signed,
       coalesce(sum(domains) FILTER (WHERE any_tlsa), 0) AS with_tlsa,
       coalesce(sum(domains) FILTER (WHERE status = 'dane-valid'), 0) AS dane_valid,
       coalesce(sum(domains) FILTER (WHERE status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')), 0)
         AS dane_failed,
       round(100.0 * coalesce(sum(domains) FILTER (WHERE status = 'dane-valid'), 0)
             / nullif(sum(domains) FILTER (WHERE with_mail), 0), 1) AS pct_dane_valid_of_mail
  FROM danescan_domain_counts(:'scan_id')
 WHERE tld IS NOT NULL
 GROUP BY tld
 ORDER BY sum(domains) DESC, tld
 LIMIT 30;
