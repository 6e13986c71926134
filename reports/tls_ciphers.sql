-- Report table "tls_ciphers": TLS cipher suites negotiated with probed addresses (probes
-- where TLS came up), counted by address and by MX host.
-- psql variables: scan_id.
SELECT p.cipher AS cipher,
       count(DISTINCT (p.host, p.address)) AS addresses,
       count(DISTINCT p.host) AS hosts,
       round(100.0 * count(DISTINCT (p.host, p.address))
             / nullif((SELECT count(DISTINCT (q.host, q.address)) FROM probes q
                        WHERE q.scan_id = :'scan_id' AND q.tls_version IS NOT NULL), 0), 1) AS pct_of_addresses
  FROM probes p
 WHERE p.scan_id = :'scan_id' AND p.tls_version IS NOT NULL
 GROUP BY p.cipher
 ORDER BY count(DISTINCT (p.host, p.address)) DESC, p.cipher;
