-- Fixture for tests/integration/test_export.py, loaded after
-- report_fixture.sql: rows the report fixture leaves out (addresses, chains,
-- banners, EHLO keywords, timestamps, text that needs CSV quoting, an empty
-- string beside NULLs) in scan fx-2, and rows of scan fx-1 that an export of
-- fx-2 must not carry (a certificate only fx-1's chain names among them,
-- an fx-1 domain_mta_sts row). domain_mta_sts: the report fixture's three
-- fx-2 rows get their lookup columns, and one more row (record-invalid,
-- TLS-RPT invalid, a failure that needs CSV quoting).
UPDATE domains SET started_at = '2024-03-01T00:00:01.5Z', elapsed_ms = 120, mx_rcode = 'NOERROR',
                   implicit_mx = false, input_file = 0, input_line = 1
 WHERE scan_id = 'fx-2' AND domain = 'a.lab';
UPDATE domains SET mx_rcode = '', invalid_reason = 'comma, "quote"'
 WHERE scan_id = 'fx-2' AND domain = 'g.lab';

INSERT INTO addresses (scan_id, host, address, family) VALUES
  ('fx-2', 'mx.a.lab', '192.0.2.1', 4),
  ('fx-2', 'mx2.dane-host.net', '2001:db8::9', 6),
  ('fx-1', 'mx.a.lab', '192.0.2.1', 4);

UPDATE probes SET banner = '\x3232302068690d0aff'::bytea, banner_text = '220 hi, "there"\x0d\x0a\xff',
                  ehlo_keywords = '{PIPELINING,"SIZE 1000",NULL}', connect_ms = 3, total_ms = 40, chain_sent = 2,
                  attempts = 2, step = 'done', first_result = 'timeout', first_step = 'greeting',
                  first_reason = 'no greeting within 3000 ms', first_ms = 3000, retry_pause_ms = 500
 WHERE scan_id = 'fx-2' AND host = 'mx.a.lab';

INSERT INTO certificates (sha256, der, subject, issuer, san, not_before, not_after, key_type, key_bits) VALUES
  (decode(repeat('33', 32), 'hex'), '\x3082', 'CN=ca', 'CN=root', '{ca.example,"www.ca.example"}',
   '2024-01-01T00:00:00Z', '2026-01-01T12:30:00Z', 'RSA', 4096),
  (decode(repeat('44', 32), 'hex'), '\x3083', 'CN=fx-1 only', NULL, NULL, NULL, NULL, 'EC', 256);

INSERT INTO probe_chain (scan_id, host, address, probe_no, depth, cert_sha256) VALUES
  ('fx-2', 'mx.a.lab', '192.0.2.1', 0, 0, decode(repeat('11', 32), 'hex')),
  ('fx-2', 'mx.a.lab', '192.0.2.1', 0, 1, decode(repeat('33', 32), 'hex')),
  ('fx-1', 'mx.a.lab', '192.0.2.1', 0, 0, decode(repeat('11', 32), 'hex')),
  ('fx-1', 'mx.a.lab', '192.0.2.1', 0, 1, decode(repeat('44', 32), 'hex'));

UPDATE domain_mta_sts SET record_dnssec = 'secure', record_rcode = 'NOERROR', policy_host_dnssec = 'insecure',
                          tlsrpt_dnssec = 'secure', tlsrpt_rcode = 'NOERROR', mx_patterns = '{mx.a.lab,"*.a.lab"}'
 WHERE scan_id = 'fx-2' AND domain = 'a.lab';
UPDATE domain_mta_sts SET record_dnssec = 'insecure', record_rcode = 'NXDOMAIN', tlsrpt_dnssec = 'insecure',
                          tlsrpt_rcode = 'NOERROR'
 WHERE scan_id = 'fx-2' AND domain = 'h.net';
INSERT INTO domain_mta_sts (scan_id, seq, domain, status, failure, record_dnssec, record_rcode, tlsrpt_status,
                            tlsrpt_failure, tlsrpt_dnssec, tlsrpt_rcode) VALUES
  ('fx-2', 9, 'i.lab', 'record-invalid', 'record 1: no id field, "id=" missing (RFC 8461 3.1)', 'insecure',
   'NOERROR', 'invalid', 'no valid rua URI: ftp://x.i.lab', 'insecure', 'NOERROR'),
  ('fx-1', 1, 'a.lab', 'cert-unchecked', 'no MX address was checked', 'secure', 'NOERROR', 'none', NULL, 'secure',
   'NXDOMAIN');

-- domain_dns_operators (migration 017): two operators of a.lab in fx-2 (the
-- second name server's array needs CSV quoting), one row of fx-1 that an
-- export of fx-2 must not carry.
INSERT INTO domain_dns_operators (scan_id, seq, domain, operator, ns_hosts) VALUES
  ('fx-2', 1, 'a.lab', 'hosting.lab', '{ns1.hosting.lab,ns2.hosting.lab}'),
  ('fx-2', 1, 'a.lab', 'dns.example.co.uk', '{ns.dns.example.co.uk}'),
  ('fx-1', 1, 'a.lab', 'hosting.lab', '{ns1.hosting.lab}');
-- domain_dnssec_zones (migration 015): the report fixture has fx-2's rows;
-- one fx-1 row that an export of fx-2 must not carry.
INSERT INTO domain_dnssec_zones (scan_id, seq, domain, zone, roles, dnskey_dnssec, ds_dnssec, key_algorithms,
                                 key_bits, key_flags, ds_digest_types, denial, nsec3_iterations, nsec3_salt_length,
                                 nsec3_verdict, dnskey_rrsig_expires, rrsig_expires, flags) VALUES
  ('fx-1', 1, 'a.lab', 'a.lab', '{mx,tlsa}', 'secure', 'secure', '{13}', '{256}', '{257}', '{2}', 'nsec', NULL,
   NULL, NULL, NULL, NULL, '{}');
