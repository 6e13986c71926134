-- Report table "algorithm_coverage": MX hosts with a secure, non-empty TLSA
-- RRset by the certificate key types their probes were served, and whether the
-- scanner flagged partial-algorithm-coverage (TLSA covers only one of an RSA
-- and an ECDSA certificate). Hosts without a probed certificate show
-- "no certificate".
-- psql variables: scan_id.
WITH hosts AS (
  SELECT h.host, 'partial-algorithm-coverage' = ANY (h.flags) AS partial
    FROM mx_hosts h
   WHERE h.scan_id = :'scan_id' AND h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0
), served AS (
  SELECT hosts.host, hosts.partial,
         coalesce((SELECT string_agg(DISTINCT c.key_type, '+' ORDER BY c.key_type)
                     FROM probes p JOIN certificates c ON c.sha256 = p.leaf_sha256
                    WHERE p.scan_id = :'scan_id' AND p.host = hosts.host AND c.key_type IS NOT NULL),
                  'no certificate') AS key_types
    FROM hosts
)
SELECT key_types AS key_types_served,
       CASE WHEN partial THEN 'partial-algorithm-coverage' ELSE 'covered' END AS coverage,
       count(*) AS hosts,
       round(100.0 * count(*) / nullif(sum(count(*)) OVER (), 0), 1) AS pct_of_hosts
  FROM served
 GROUP BY key_types, partial
 ORDER BY count(*) DESC, key_types, partial;
