-- Report table "key_types": leaf certificate key types and sizes served by
-- probed addresses (an address probed once per algorithm counts once per key
-- type), by address and by MX host.
-- psql variables: scan_id.
SELECT coalesce(c.key_type, 'unknown') || coalesce(' ' || c.key_bits, '') AS key_type,
       count(DISTINCT (p.host, p.address)) AS addresses,
       count(DISTINCT p.host) AS hosts
  FROM probes p
  JOIN certificates c ON c.sha256 = p.leaf_sha256
 WHERE p.scan_id = :'scan_id'
 GROUP BY 1
 ORDER BY count(DISTINCT (p.host, p.address)) DESC, 1;
