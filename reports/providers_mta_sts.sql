-- Report table "providers_mta_sts": per MX provider (the Public Suffix List
-- provider of migration 010), the domains it serves among those checked for
-- MTA-STS, split into DANE only, MTA-STS only, both and neither (as in
-- dane_mta_sts), with the MTA-STS domains whose policy does not list its
-- hosts (mx_mismatch). A domain counts once per provider of any of its MX
-- hosts; the twenty providers serving the most checked domains. No rows
-- when the scan did not check MTA-STS.
-- psql variables: scan_id.
WITH links AS (
  SELECT DISTINCT h.provider, h.seq, h.mta_sts_match
    FROM mta_sts_hosts h
   WHERE h.scan_id = :'scan_id' AND h.provider IS NOT NULL
), per AS (
  SELECT l.provider, d.seq, d.deployment, bool_or(l.mta_sts_match = false) AS unlisted
    FROM links l
    JOIN dane_mta_sts d ON d.scan_id = :'scan_id' AND d.seq = l.seq
   GROUP BY l.provider, d.seq, d.deployment
)
SELECT provider,
       count(*) AS domains,
       count(*) FILTER (WHERE deployment = 'dane-only') AS dane_only,
       count(*) FILTER (WHERE deployment = 'mta-sts-only') AS mta_sts_only,
       count(*) FILTER (WHERE deployment = 'both') AS both_,
       count(*) FILTER (WHERE deployment = 'neither') AS neither,
       count(*) FILTER (WHERE unlisted) AS mx_mismatch
  FROM per
 GROUP BY provider
 ORDER BY count(*) DESC, provider
 LIMIT 20;
