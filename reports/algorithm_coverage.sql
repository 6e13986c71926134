-- Report table "algorithm_coverage": MX hosts with a secure, non-empty TLSA
-- RRset by the certificate key types their probes were served, and whether the
-- scanner flagged partial-algorithm-coverage (TLSA covers only one of an RSA
-- and an ECDSA certificate). Hosts without a probed certificate show
-- "no certificate".
-- Plan: the scan's TLSA hosts, their probes by the scan's probes (host)
-- index (migration 009).
-- psql variables: scan_id.
WITH hosts AS (
  SELECT h.host, 'partial-algorithm-coverage' = ANY (h.flags) AS partial
    FROM mx_hosts h
   WHERE h.scan_id = :'scan_id' AND h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0
), served AS (
  SELECT hosts.host, hosts.partial,
         coalesce(string_agg(DISTINCT c.key_type, '+' ORDER BY c.key_type), 'no certificate') AS key_types
    FROM hosts
    LEFT JOIN (probes p JOIN certificates c ON c.sha256 = p.leaf_sha256 AND c.key_type IS NOT NULL)
           ON p.scan_id = :'scan_id' AND p.host = hosts.host
   GROUP BY hosts.host, hosts.partial
)
SELECT key_types AS key_types_served,
       CASE WHEN partial THEN 'partial-algorithm-coverage' ELSE 'covered' END AS coverage,
       count(*) AS hosts,
       round(100.0 * count(*) / nullif(sum(count(*)) OVER (), 0), 1) AS pct_of_hosts
  FROM served
 GROUP BY key_types, partial
 ORDER BY count(*) DESC, key_types, partial;
