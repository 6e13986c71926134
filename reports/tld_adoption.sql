-- Report table "tld_adoption": adoption per TLD (the 30 TLDs with the most
-- domains), percentages of the TLD's domains with mail.
-- psql variables: scan_id.
SELECT tld,
       count(*) AS domains,
       count(*) FILTER (WHERE mx_count > 0) AS with_mail,
       count(*) FILTER (WHERE mx_dnssec = 'secure') AS signed,
       count(*) FILTER (WHERE any_tlsa) AS with_tlsa,
       count(*) FILTER (WHERE status = 'dane-valid') AS dane_valid,
       count(*) FILTER (WHERE status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')) AS dane_failed,
       round(100.0 * count(*) FILTER (WHERE status = 'dane-valid')
             / nullif(count(*) FILTER (WHERE mx_count > 0), 0), 1) AS pct_dane_valid_of_mail
  FROM domain_summary
 WHERE scan_id = :'scan_id' AND tld IS NOT NULL
 GROUP BY tld
 ORDER BY count(*) DESC, tld
 LIMIT 30;
