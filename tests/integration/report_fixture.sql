-- Fixture for tests/integration/test_report.py and test_diff.py: three scans
-- of the same input (fx-0, fx-1, fx-2, a month apart) and one of another
-- input (fx-other). Between fx-1 and fx-2: b.org breaks (TLSA no longer
-- matches, dane-valid -> dane-failed), c.net is fixed (dane-failed ->
-- dane-valid), j.org drops its MX (insecure -> no-mail, same rank).
-- Rows are typed by hand in the schema of schema/migrations.
SELECT danescan_create_scan_partitions(id) FROM (VALUES ('fx-0'), ('fx-1'), ('fx-2'), ('fx-other')) s(id);

INSERT INTO scans (id, started_at, ended_at, complete, software, command_line, inputs, domains) VALUES
  ('fx-0', '2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z', true, 'danescan 0.1.0', '{scan}', '[{"name": "a.txt", "sha256": "aa11"}]', 2),
  ('fx-1', '2024-02-01T00:00:00Z', '2024-02-01T01:00:00Z', true, 'danescan 0.1.0', '{scan}', '[{"name": "a.txt", "sha256": "aa11"}]', 10),
  ('fx-2', '2024-03-01T00:00:00Z', '2024-03-01T01:00:00Z', true, 'danescan 0.1.0', '{scan}', '[{"name": "b/a.txt", "sha256": "aa11"}]', 10),
  ('fx-other', '2024-02-15T00:00:00Z', NULL, false, 'danescan 0.1.0', '{scan}', '[{"name": "z.txt", "sha256": "ff99"}]', 1);

INSERT INTO domains (scan_id, seq, domain, tld, status, mx_dnssec, mx_count, mx_failure) VALUES
  ('fx-0', 1, 'a.lab', 'lab', 'no-dane', 'secure', 1, NULL),
  ('fx-0', 2, 'b.org', 'org', 'dane-valid', 'secure', 1, NULL),
  ('fx-other', 1, 'zz.lab', 'lab', 'dane-valid', 'secure', 1, NULL),
  ('fx-1', 1, 'a.lab', 'lab', 'dane-valid', 'secure', 1, NULL),
  ('fx-1', 2, 'b.org', 'org', 'dane-valid', 'secure', 1, NULL),
  ('fx-1', 3, 'c.net', 'net', 'dane-failed', 'secure', 1, NULL),
  ('fx-1', 4, 'd.lab', 'lab', 'insecure', 'insecure', 1, NULL),
  ('fx-1', 5, 'e.lab', 'lab', 'no-mail', 'insecure', 0, NULL),
  ('fx-1', 6, 'f.org', 'org', 'dane-partial', 'secure', 2, NULL),
  ('fx-1', 7, 'g.lab', 'lab', 'lookup-failed', NULL, 0, 'timeout after 3 attempts'),
  ('fx-1', 8, 'h.net', 'net', 'no-dane', 'secure', 1, NULL),
  ('fx-1', 9, 'i.lab', 'lab', 'dane-valid', 'insecure', 1, NULL),
  ('fx-1', 10, 'j.org', 'org', 'insecure', 'insecure', 1, NULL),
  ('fx-2', 1, 'a.lab', 'lab', 'dane-valid', 'secure', 1, NULL),
  ('fx-2', 2, 'b.org', 'org', 'dane-failed', 'secure', 1, NULL),
  ('fx-2', 3, 'c.net', 'net', 'dane-valid', 'secure', 1, NULL),
  ('fx-2', 4, 'd.lab', 'lab', 'insecure', 'insecure', 1, NULL),
  ('fx-2', 5, 'e.lab', 'lab', 'no-mail', 'insecure', 0, NULL),
  ('fx-2', 6, 'f.org', 'org', 'dane-partial', 'secure', 2, NULL),
  ('fx-2', 7, 'g.lab', 'lab', 'lookup-failed', NULL, 0, 'timeout after 3 attempts'),
  ('fx-2', 8, 'h.net', 'net', 'no-dane', 'secure', 1, NULL),
  ('fx-2', 9, 'i.lab', 'lab', 'dane-valid', 'insecure', 1, NULL),
  ('fx-2', 10, 'j.org', 'org', 'no-mail', 'insecure', 0, NULL),
  ('fx-2', 11, 'k.lab', 'lab', 'dane-valid', 'secure', 1, NULL);
UPDATE scans SET domains = 11 WHERE id = 'fx-2';

INSERT INTO domain_mx (scan_id, seq, domain, preference, host)
SELECT s.id, v.seq, v.domain, v.preference, v.host
  FROM (VALUES ('fx-1'), ('fx-2')) s(id),
       (VALUES (1, 'a.lab', 10, 'mx.a.lab'), (2, 'b.org', 10, 'mx.b.org'), (3, 'c.net', 10, 'mx.c.net'),
               (4, 'd.lab', 10, 'mx1.provider.test'), (6, 'f.org', 10, 'mx1.dane-host.net'),
               (6, 'f.org', 20, 'mx.f.org'), (8, 'h.net', 10, 'mx.h.net'), (9, 'i.lab', 10, 'mx1.dane-host.net'))
         v(seq, domain, preference, host);
INSERT INTO domain_mx (scan_id, seq, domain, preference, host) VALUES
  ('fx-1', 10, 'j.org', 10, 'mx2.provider.test'),
  ('fx-2', 11, 'k.lab', 10, 'mx2.dane-host.net'),
  ('fx-0', 1, 'a.lab', 10, 'mx.a.lab'),
  ('fx-0', 2, 'b.org', 10, 'mx.b.org'),
  ('fx-other', 1, 'zz.lab', 10, 'mx.zz.lab');

INSERT INTO mx_hosts (scan_id, host, status, address_dnssec, flags, rollover, tlsa_params, address_count,
                      tlsa_count, tlsa_usable_count, tlsa_dnssec, tlsa_failure)
SELECT s.id, v.host,
       (CASE WHEN s.id = 'fx-1' THEN v.status1 ELSE v.status2 END)::host_status,
       v.address_dnssec::dnssec_state,
       CASE WHEN s.id = 'fx-2' AND v.host = 'mx1.dane-host.net' THEN '{partial-algorithm-coverage}'::text[]
            ELSE '{}'::text[] END,
       v.rollover::rollover_class, v.params::text[], 1, v.tlsa_count, v.tlsa_count,
       v.tlsa_dnssec::dnssec_state, NULL
  FROM (VALUES ('fx-1'), ('fx-2')) s(id),
       (VALUES ('mx.a.lab', 'dane-valid', 'dane-valid', 'secure', 'current+next', '{"3 1 1","3 1 1"}', 2, 'secure'),
               ('mx.b.org', 'dane-valid', 'dane-failed', 'secure', 'single', '{"3 1 1"}', 1, 'secure'),
               ('mx.c.net', 'dane-failed', 'dane-valid', 'secure', 'issuer', '{"2 0 1"}', 1, 'secure'),
               ('mx1.provider.test', 'insecure', 'insecure', 'insecure', 'none', '{}', 0, 'insecure'),
               ('mx1.dane-host.net', 'dane-valid', 'dane-valid', 'secure', 'current+issuer', '{"3 1 1","2 0 1"}', 2, 'secure'),
               ('mx.f.org', 'no-tlsa', 'no-tlsa', 'secure', 'none', '{}', 0, 'secure'),
               ('mx.h.net', 'no-tlsa', 'no-tlsa', 'secure', 'none', '{}', 0, 'secure'))
         v(host, status1, status2, address_dnssec, rollover, params, tlsa_count, tlsa_dnssec);
INSERT INTO mx_hosts (scan_id, host, status, address_dnssec, flags, rollover, tlsa_params, address_count,
                      tlsa_count, tlsa_usable_count, tlsa_dnssec) VALUES
  ('fx-1', 'mx2.provider.test', 'insecure', 'insecure', '{}', 'none', '{}', 1, 0, 0, 'insecure'),
  ('fx-2', 'mx2.dane-host.net', 'dane-valid', 'secure', '{single-key,leaf-expires-soon}', 'single', '{"3 1 1"}', 1, 1, 1, 'secure'),
  ('fx-0', 'mx.a.lab', 'no-tlsa', 'secure', '{}', 'none', '{}', 1, 0, 0, 'secure'),
  ('fx-0', 'mx.b.org', 'dane-valid', 'secure', '{}', 'single', '{"3 1 1"}', 1, 1, 1, 'secure'),
  ('fx-other', 'mx.zz.lab', 'dane-valid', 'secure', '{}', 'single', '{"3 1 1"}', 1, 1, 1, 'secure');

INSERT INTO tlsa_records (scan_id, host, position, usage, selector, matching_type, data, usable)
SELECT h.scan_id, h.host, p.n, split_part(p.t, ' ', 1)::smallint, split_part(p.t, ' ', 2)::smallint,
       split_part(p.t, ' ', 3)::smallint, decode(repeat(to_hex(p.n + 10), 32), 'hex'), true
  FROM mx_hosts h, unnest(h.tlsa_params) WITH ORDINALITY p(t, n)
 WHERE h.scan_id IN ('fx-0', 'fx-1', 'fx-2', 'fx-other');

INSERT INTO certificates (sha256, der, subject, key_type, key_bits) VALUES
  (decode(repeat('11', 32), 'hex'), '\x30', 'CN=rsa', 'RSA', 2048),
  (decode(repeat('22', 32), 'hex'), '\x30', 'CN=ec', 'EC', 256)
ON CONFLICT DO NOTHING;

INSERT INTO probes (scan_id, host, address, probe_no, result, reason, tls_version, cipher, leaf_sha256)
SELECT s.id, v.host, v.address::inet, v.probe_no,
       (CASE WHEN s.id = 'fx-1' THEN v.result1 ELSE v.result2 END)::probe_result,
       CASE WHEN (CASE WHEN s.id = 'fx-1' THEN v.result1 ELSE v.result2 END) = 'tlsa-mismatch'
            THEN 'no TLSA record matched the chain' END,
       v.tls_version, v.cipher, decode(repeat(v.cert, 32), 'hex')
  FROM (VALUES ('fx-1'), ('fx-2')) s(id),
       (VALUES ('mx.a.lab', '192.0.2.1', 0, 'authenticated', 'authenticated', 'TLSv1.3', 'TLS_AES_256_GCM_SHA384', '11'),
               ('mx.b.org', '192.0.2.2', 0, 'authenticated', 'tlsa-mismatch', 'TLSv1.3', 'TLS_AES_256_GCM_SHA384', '11'),
               ('mx.c.net', '192.0.2.3', 0, 'tlsa-mismatch', 'authenticated', 'TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256', '11'),
               ('mx1.provider.test', '192.0.2.4', 0, 'unauthenticated-tls', 'unauthenticated-tls', 'TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256', '11'),
               ('mx1.dane-host.net', '192.0.2.5', 0, 'authenticated', 'authenticated', 'TLSv1.3', 'TLS_AES_256_GCM_SHA384', '11'),
               ('mx1.dane-host.net', '192.0.2.5', 1, 'authenticated', 'authenticated', 'TLSv1.3', 'TLS_AES_256_GCM_SHA384', '22'),
               ('mx.h.net', '192.0.2.8', 0, 'unauthenticated-tls', 'unauthenticated-tls', 'TLSv1.3', 'TLS_AES_128_GCM_SHA256', '22'))
         v(host, address, probe_no, result1, result2, tls_version, cipher, cert);
INSERT INTO probes (scan_id, host, address, probe_no, result, reason) VALUES
  ('fx-1', 'mx.f.org', '192.0.2.6', 0, 'timeout', 'greeting'),
  ('fx-2', 'mx.f.org', '192.0.2.6', 0, 'timeout', 'greeting'),
  ('fx-1', 'mx2.provider.test', '192.0.2.7', 0, 'connect-failed', 'refused');
INSERT INTO probes (scan_id, host, address, probe_no, result, tls_version, cipher, leaf_sha256) VALUES
  ('fx-2', 'mx2.dane-host.net', '2001:db8::9', 0, 'authenticated', 'TLSv1.3', 'TLS_AES_256_GCM_SHA384',
   decode(repeat('22', 32), 'hex'));

-- MTA-STS (migration 014), fx-2 only (so `diff fx-1 fx-2` has no MTA-STS
-- lines): a.lab has DANE and a valid policy (both), d.lab an enforce
-- policy not listing mx1.provider.test (mta-sts-only, mx-mismatch), h.net
-- neither but a TLS-RPT record.
INSERT INTO domain_mta_sts (scan_id, seq, domain, status, failure, id, mode, max_age, mx_patterns, http_status,
                            tlsrpt_status, tlsrpt_rua) VALUES
  ('fx-2', 1, 'a.lab', 'valid', NULL, '1', 'enforce', 86400, '{mx.a.lab}', 200, 'valid', '{mailto:tls@a.lab}'),
  ('fx-2', 4, 'd.lab', 'mx-mismatch', 'MX host mx1.provider.test matches no mx pattern of the policy (RFC 8461 4.1)',
   '1', 'enforce', 86400, '{mx.d.lab}', 200, 'none', NULL),
  ('fx-2', 8, 'h.net', 'none', NULL, NULL, NULL, NULL, NULL, NULL, 'valid', '{https://r.h.net/tlsrpt}');
UPDATE domain_mx SET mta_sts_match = (domain = 'a.lab')
 WHERE scan_id = 'fx-2' AND domain IN ('a.lab', 'd.lab');

-- DNSSEC hygiene (migration 015, issue 19): fx-2's a.lab (its own NSEC3 zone,
-- signatures expiring 4 days after the scan's start, and its TLSA host's
-- RSASHA1 zone with a SHA-1 DS) and b.org (that same provider zone).
INSERT INTO domain_dnssec_zones (scan_id, seq, domain, zone, roles, dnskey_dnssec, ds_dnssec, key_algorithms,
                                 key_bits, key_flags, ds_digest_types, denial, nsec3_iterations, nsec3_salt_length,
                                 nsec3_verdict, dnskey_rrsig_expires, rrsig_expires, flags) VALUES
  ('fx-2', 1, 'a.lab', 'a.lab', '{mx}', 'secure', 'secure', '{13}', '{256}', '{257}', '{2}', 'nsec3', 0, 0,
   'recommended', '2024-03-20T00:00:00Z', '2024-03-05T00:00:00Z', '{rrsig-expires-soon}'),
  ('fx-2', 1, 'a.lab', 'provider.lab', '{tlsa}', 'secure', 'secure', '{5,5}', '{2048,1024}', '{257,256}', '{1}',
   'nsec', NULL, NULL, NULL, '2024-04-01T00:00:00Z', '2024-04-01T00:00:00Z', '{alg-not-recommended,ds-sha1}'),
  ('fx-2', 2, 'b.org', 'provider.lab', '{tlsa}', 'secure', 'secure', '{5,5}', '{2048,1024}', '{257,256}', '{1}',
   'nsec', NULL, NULL, NULL, '2024-04-01T00:00:00Z', '2024-04-01T00:00:00Z', '{alg-not-recommended,ds-sha1}');
