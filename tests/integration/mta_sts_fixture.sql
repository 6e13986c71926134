-- Fixture for tests/integration/test_mta_sts_report.py: two scans (ms-1,
-- ms-2) checked for MTA-STS, typed by hand in the schema of migration 014.
-- ms-2: a.test DANE only, b.test MTA-STS only (enforce, valid), c.test
-- MTA-STS only (testing, mx-mismatch: mx.other.test is not listed), d.test
-- both (DANE failing), e.test neither, f.test MTA-STS only without a valid
-- policy (policy-unavailable). From ms-1: b.test fixed (policy-unavailable
-- -> valid), c.test broke (valid -> mx-mismatch), a.test gained TLS-RPT,
-- d.test's TLS-RPT record became invalid.
SELECT danescan_create_scan_partitions(id) FROM (VALUES ('ms-1'), ('ms-2')) s(id);

INSERT INTO scans (id, started_at, ended_at, complete, software, command_line, inputs, domains) VALUES
  ('ms-1', '2024-02-01T00:00:00Z', '2024-02-01T01:00:00Z', true, 'danescan 0.1.0', '{scan,--mta-sts}', '[{"name": "m.txt", "sha256": "bb22"}]', 6),
  ('ms-2', '2024-03-01T00:00:00Z', '2024-03-01T01:00:00Z', true, 'danescan 0.1.0', '{scan,--mta-sts}', '[{"name": "m.txt", "sha256": "bb22"}]', 6);

INSERT INTO domains (scan_id, seq, domain, tld, status, mx_dnssec, mx_count) VALUES
  ('ms-1', 1, 'a.test', 'test', 'dane-valid', 'secure', 1),
  ('ms-1', 2, 'b.test', 'test', 'insecure', 'insecure', 1),
  ('ms-1', 3, 'c.test', 'test', 'insecure', 'insecure', 2),
  ('ms-1', 4, 'd.test', 'test', 'dane-failed', 'secure', 1),
  ('ms-1', 5, 'e.test', 'test', 'insecure', 'insecure', 1),
  ('ms-1', 6, 'f.test', 'test', 'insecure', 'insecure', 1),
  ('ms-2', 1, 'a.test', 'test', 'dane-valid', 'secure', 1),
  ('ms-2', 2, 'b.test', 'test', 'insecure', 'insecure', 1),
  ('ms-2', 3, 'c.test', 'test', 'insecure', 'insecure', 2),
  ('ms-2', 4, 'd.test', 'test', 'dane-failed', 'secure', 1),
  ('ms-2', 5, 'e.test', 'test', 'insecure', 'insecure', 1),
  ('ms-2', 6, 'f.test', 'test', 'insecure', 'insecure', 1);

INSERT INTO mx_hosts (scan_id, host, status, flags, rollover, tlsa_params, address_count, tlsa_count,
                      tlsa_usable_count, provider) VALUES
  ('ms-2', 'mx.a.test', 'dane-valid', '{}', 'single', '{"3 1 1"}', 1, 1, 1, 'a.test'),
  ('ms-2', 'mx1.prov.test', 'insecure', '{}', 'none', '{}', 1, 0, 0, 'prov.test'),
  ('ms-2', 'mx.other.test', 'insecure', '{}', 'none', '{}', 1, 0, 0, 'other.test'),
  ('ms-2', 'mx.d.test', 'dane-failed', '{}', 'single', '{"3 1 1"}', 1, 1, 1, 'd.test'),
  ('ms-2', 'mx.e.test', 'insecure', '{}', 'none', '{}', 1, 0, 0, 'e.test');

INSERT INTO domain_mx (scan_id, seq, domain, preference, host, mta_sts_match) VALUES
  ('ms-2', 1, 'a.test', 10, 'mx.a.test', NULL),
  ('ms-2', 2, 'b.test', 10, 'mx1.prov.test', true),
  ('ms-2', 3, 'c.test', 10, 'mx1.prov.test', true),
  ('ms-2', 3, 'c.test', 20, 'mx.other.test', false),
  ('ms-2', 4, 'd.test', 10, 'mx.d.test', true),
  ('ms-2', 5, 'e.test', 10, 'mx.e.test', NULL),
  ('ms-2', 6, 'f.test', 10, 'mx1.prov.test', NULL);

INSERT INTO domain_mta_sts (scan_id, seq, domain, status, failure, id, mode, max_age, mx_patterns, http_status,
                            tlsrpt_status, tlsrpt_rua, tlsrpt_failure) VALUES
  ('ms-1', 1, 'a.test', 'none', NULL, NULL, NULL, NULL, NULL, NULL, 'none', NULL, NULL),
  ('ms-1', 2, 'b.test', 'policy-unavailable', 'policy fetch: HTTP status 404', '1', NULL, NULL, NULL, 404,
   'valid', '{mailto:tls@b.test}', NULL),
  ('ms-1', 3, 'c.test', 'valid', NULL, '1', 'testing', 86400, '{mx1.prov.test,mx.other.test}', 200, 'none', NULL, NULL),
  ('ms-1', 4, 'd.test', 'valid', NULL, '7', 'enforce', 86400, '{mx.d.test}', 200, 'valid', '{mailto:r@d.test}', NULL),
  ('ms-1', 5, 'e.test', 'none', NULL, NULL, NULL, NULL, NULL, NULL, 'none', NULL, NULL),
  ('ms-1', 6, 'f.test', 'policy-unavailable', 'policy fetch: connect refused', '1', NULL, NULL, NULL, NULL,
   'none', NULL, NULL),
  ('ms-2', 1, 'a.test', 'none', NULL, NULL, NULL, NULL, NULL, NULL, 'valid', '{mailto:tls@a.test}', NULL),
  ('ms-2', 2, 'b.test', 'valid', NULL, '2', 'enforce', 604800, '{*.prov.test}', 200, 'valid', '{mailto:tls@b.test}', NULL),
  ('ms-2', 3, 'c.test', 'mx-mismatch', 'MX host mx.other.test matches no mx pattern of the policy (RFC 8461 4.1)',
   '2', 'testing', 86400, '{*.prov.test}', 200, 'none', NULL, NULL),
  ('ms-2', 4, 'd.test', 'valid', NULL, '7', 'enforce', 86400, '{mx.d.test}', 200, 'invalid', NULL,
   'record 1: no rua field (RFC 8460 3)'),
  ('ms-2', 5, 'e.test', 'none', NULL, NULL, NULL, NULL, NULL, NULL, 'none', NULL, NULL),
  ('ms-2', 6, 'f.test', 'policy-unavailable', 'policy fetch: connect refused', '1', NULL, NULL, NULL, NULL,
   'none', NULL, NULL);
