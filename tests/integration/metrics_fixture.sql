-- Fixture for tests/integration/test_report_metrics.py: four scans of one
-- input (m-1 .. m-4, input digest "mm11") and one of another (m-alt), typed by
-- hand so that every metric of issue 17 has an answer known in advance. The
-- expected values, and why, are in test_report_metrics.py.
-- Dates: m-1 2024-01-01, m-2 01-08, m-3 01-15, m-alt 01-20, m-4 01-29.
-- mx_hosts.provider is set as the scanner writes it (registrable domain by
-- the Public Suffix List, '' for a public suffix such as co.uk), except
-- mail.legacy.co.uk: NULL, a row stored before migration 010 (the reports
-- fall back to its last two labels, "co.uk").
SELECT danescan_create_scan_partitions(id) FROM (VALUES ('m-1'), ('m-2'), ('m-3'), ('m-4'), ('m-alt')) s(id);

INSERT INTO scans (id, started_at, ended_at, complete, software, command_line, inputs) VALUES
  ('m-1', '2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z', true, 'danescan 0.1.0', '{scan}', '[{"name": "d.txt", "sha256": "mm11"}]'),
  ('m-2', '2024-01-08T00:00:00Z', '2024-01-08T01:00:00Z', true, 'danescan 0.1.0', '{scan}', '[{"name": "d.txt", "sha256": "mm11"}]'),
  ('m-3', '2024-01-15T00:00:00Z', '2024-01-15T01:00:00Z', true, 'danescan 0.1.0', '{scan}', '[{"name": "d.txt", "sha256": "mm11"}]'),
  ('m-alt', '2024-01-20T00:00:00Z', '2024-01-20T01:00:00Z', true, 'danescan 0.1.0', '{scan}', '[{"name": "z.txt", "sha256": "zz"}]'),
  ('m-4', '2024-01-29T00:00:00Z', '2024-01-29T01:00:00Z', true, 'danescan 0.1.0', '{scan}', '[{"name": "d.txt", "sha256": "mm11"}]');

-- Domains: (scan, seq, domain, status, mx_dnssec, implicit_mx, mx_count)
INSERT INTO domains (scan_id, seq, domain, tld, status, mx_dnssec, implicit_mx, mx_count)
SELECT v.scan_id, v.seq, v.domain, 'test', v.status::domain_status, v.mx_dnssec::dnssec_state, v.implicit_mx, v.mx_count
  FROM (VALUES
    ('m-1', 1, 'ep.test', 'dane-valid', 'secure', false, 1),
    ('m-1', 2, 'ep2.test', 'dane-failed', 'secure', false, 1),
    ('m-2', 1, 'ep.test', 'dane-failed', 'secure', false, 1),
    ('m-2', 2, 'ep2.test', 'no-dane', 'secure', false, 1),
    ('m-3', 1, 'ep.test', 'dane-failed', 'secure', false, 1),
    ('m-3', 2, 'ep2.test', 'no-dane', 'secure', false, 1),
    ('m-3', 3, 'fixq.test', 'dane-failed', 'secure', false, 1),
    ('m-3', 4, 'ep3.test', 'dane-valid', 'secure', false, 1),
    ('m-3', 5, 'pub.test', 'no-dane', 'secure', false, 1),
    ('m-3', 6, 'abandon.test', 'dane-valid', 'secure', false, 1),
    ('m-3', 7, 'lf.test', 'dane-valid', 'secure', false, 1),
    ('m-3', 8, 'gone.test', 'no-dane', 'secure', false, 1),
    ('m-alt', 1, 'ep.test', 'dane-valid', 'secure', false, 1),
    ('m-alt', 2, 'zz.test', 'no-dane', 'secure', false, 0),
    ('m-4', 1, 'ep.test', 'dane-valid', 'secure', false, 1),
    ('m-4', 2, 'ep2.test', 'no-dane', 'secure', false, 1),
    ('m-4', 3, 'fixq.test', 'dane-valid', 'secure', false, 1),
    ('m-4', 4, 'ep3.test', 'dane-failed', 'secure', false, 1),
    ('m-4', 5, 'pub.test', 'dane-partial', 'secure', false, 2),
    ('m-4', 6, 'abandon.test', 'no-dane', 'secure', false, 1),
    ('m-4', 7, 'lf.test', 'lookup-failed', NULL, NULL, 0),
    ('m-4', 8, 'unreach.test', 'dane-partial', 'secure', false, 2),
    ('m-4', 9, 'old.test', 'dane-valid', 'secure', false, 1),
    ('m-4', 10, 'insec.test', 'dane-valid', 'insecure', false, 1),
    ('m-4', 11, 'implicit.test', 'dane-valid', 'secure', true, 1),
    ('m-4', 12, 'allunreach.test', 'dane-unreachable', 'secure', false, 1),
    ('m-4', 13, 'slowprim.test', 'dane-partial', 'secure', false, 2),
    ('m-4', 14, 'bog.test', 'dane-failed', 'secure', false, 1),
    ('m-4', 15, 'uns.test', 'insecure', 'insecure', false, 1)
  ) v(scan_id, seq, domain, status, mx_dnssec, implicit_mx, mx_count);

-- DNS operators of m-4 (migration 017), as the scanner writes them from a
-- zone input's NS records: ep3 has two operators, bog's only NS target is
-- the public suffix co.uk (''), ep2 is not a DANE domain, and pub, unreach,
-- old, insec, implicit and slowprim have no NS data (as from a list input).
INSERT INTO domain_dns_operators (scan_id, seq, domain, operator, ns_hosts) VALUES
  ('m-4', 1, 'ep.test', 'dnsa.net', '{ns1.dnsa.net,ns2.dnsa.net}'),
  ('m-4', 2, 'ep2.test', 'dnsa.net', '{ns1.dnsa.net}'),
  ('m-4', 3, 'fixq.test', 'dnsb.co.uk', '{ns.dnsb.co.uk}'),
  ('m-4', 4, 'ep3.test', 'dnsa.net', '{ns1.dnsa.net}'),
  ('m-4', 4, 'ep3.test', 'dnsb.co.uk', '{ns.dnsb.co.uk}'),
  ('m-4', 12, 'allunreach.test', 'dnsb.co.uk', '{ns.dnsb.co.uk}'),
  ('m-4', 14, 'bog.test', '', '{co.uk}');

INSERT INTO domain_mx (scan_id, seq, domain, preference, host) VALUES
  ('m-1', 1, 'ep.test', 10, 'mx1.example.co.uk'),
  ('m-1', 2, 'ep2.test', 10, 'mx.other.net'),
  ('m-2', 1, 'ep.test', 10, 'mx1.example.co.uk'),
  ('m-2', 2, 'ep2.test', 10, 'mx.other.net'),
  ('m-3', 1, 'ep.test', 10, 'mx1.example.co.uk'),
  ('m-3', 2, 'ep2.test', 10, 'mx.other.net'),
  ('m-3', 3, 'fixq.test', 10, 'mx.quick.org'),
  ('m-3', 4, 'ep3.test', 10, 'mx2.example.co.uk'),
  ('m-3', 5, 'pub.test', 10, 'co.uk'),
  ('m-3', 6, 'abandon.test', 10, 'mx.quit.net'),
  ('m-3', 7, 'lf.test', 10, 'mx.lf.net'),
  ('m-3', 8, 'gone.test', 10, 'mx.gone.net'),
  ('m-alt', 1, 'ep.test', 10, 'mx1.example.co.uk'),
  ('m-4', 1, 'ep.test', 10, 'mx1.example.co.uk'),
  ('m-4', 2, 'ep2.test', 10, 'mx.other.net'),
  ('m-4', 3, 'fixq.test', 10, 'mx.quick.org'),
  ('m-4', 4, 'ep3.test', 10, 'mx2.example.co.uk'),
  ('m-4', 5, 'pub.test', 10, 'co.uk'),
  ('m-4', 5, 'pub.test', 20, 'mx1.example.co.uk'),
  ('m-4', 6, 'abandon.test', 10, 'mx.quit.net'),
  ('m-4', 8, 'unreach.test', 10, 'mx.down.net'),
  ('m-4', 8, 'unreach.test', 10, 'mx1.example.co.uk'),
  ('m-4', 9, 'old.test', 10, 'mail.legacy.co.uk'),
  ('m-4', 10, 'insec.test', 10, 'mx1.example.co.uk'),
  ('m-4', 11, 'implicit.test', 0, 'implicit.test'),
  ('m-4', 12, 'allunreach.test', 10, 'mx.down.net'),
  ('m-4', 13, 'slowprim.test', 10, 'mx.slow.net'),
  ('m-4', 13, 'slowprim.test', 10, 'mx.quick.org'),
  ('m-4', 14, 'bog.test', 10, 'mx.bogus.net'),
  ('m-4', 15, 'uns.test', 10, 'mx.unsigned-tlsa.net');

-- MX hosts: (scan, host, status, tlsa_dnssec, TLSA triples, provider)
INSERT INTO mx_hosts (scan_id, host, status, address_dnssec, flags, rollover, tlsa_params, address_count, tlsa_count,
                      tlsa_usable_count, tlsa_dnssec, provider)
SELECT v.scan_id, v.host, v.status::host_status, 'secure', '{}', 'none', v.params::text[], 1,
       cardinality(v.params::text[]), cardinality(v.params::text[]), v.tlsa_dnssec::dnssec_state, v.provider
  FROM (VALUES
    ('m-1', 'mx1.example.co.uk', 'dane-valid', 'secure', '{"3 1 1"}', 'example.co.uk'),
    ('m-1', 'mx.other.net', 'dane-failed', 'secure', '{"3 1 1"}', 'other.net'),
    ('m-2', 'mx1.example.co.uk', 'dane-failed', 'secure', '{"3 1 1"}', 'example.co.uk'),
    ('m-2', 'mx.other.net', 'no-tlsa', 'secure', '{}', 'other.net'),
    ('m-3', 'mx1.example.co.uk', 'dane-failed', 'secure', '{"3 1 1"}', 'example.co.uk'),
    ('m-3', 'mx.other.net', 'no-tlsa', 'secure', '{}', 'other.net'),
    ('m-3', 'mx.quick.org', 'dane-failed', 'secure', '{"3 0 2"}', 'quick.org'),
    ('m-3', 'mx2.example.co.uk', 'dane-valid', 'secure', '{"3 1 1"}', 'example.co.uk'),
    ('m-3', 'co.uk', 'no-tlsa', 'secure', '{}', ''),
    ('m-3', 'mx.quit.net', 'dane-valid', 'secure', '{"3 1 1"}', 'quit.net'),
    ('m-3', 'mx.lf.net', 'dane-valid', 'secure', '{"3 1 1"}', 'lf.net'),
    ('m-3', 'mx.gone.net', 'no-tlsa', 'secure', '{}', 'gone.net'),
    ('m-alt', 'mx1.example.co.uk', 'dane-valid', 'secure', '{"3 1 1"}', 'example.co.uk'),
    ('m-4', 'mx1.example.co.uk', 'dane-valid', 'secure', '{"3 1 1","3 0 1","2 0 1","3 1 1"}', 'example.co.uk'),
    ('m-4', 'mx2.example.co.uk', 'dane-failed', 'secure', '{"3 1 1"}', 'example.co.uk'),
    ('m-4', 'mx.quick.org', 'dane-valid', 'secure', '{"3 0 2"}', 'quick.org'),
    ('m-4', 'mx.other.net', 'no-tlsa', 'secure', '{}', 'other.net'),
    ('m-4', 'co.uk', 'no-tlsa', 'secure', '{}', ''),
    ('m-4', 'mx.quit.net', 'no-tlsa', 'secure', '{}', 'quit.net'),
    ('m-4', 'mx.down.net', 'dane-unreachable', 'secure', '{"3 1 1"}', 'down.net'),
    ('m-4', 'mail.legacy.co.uk', 'dane-valid', 'secure', '{"3 1 2"}', NULL),
    ('m-4', 'implicit.test', 'dane-valid', 'secure', '{"3 1 1"}', 'implicit.test'),
    ('m-4', 'mx.slow.net', 'no-tlsa', 'secure', '{}', 'slow.net'),
    ('m-4', 'mx.bogus.net', 'tlsa-failed', 'bogus', '{}', 'bogus.net'),
    ('m-4', 'mx.unsigned-tlsa.net', 'no-tlsa', 'insecure', '{"3 1 1"}', 'unsigned-tlsa.net')
  ) v(scan_id, host, status, tlsa_dnssec, params, provider);
UPDATE mx_hosts SET tlsa_usable_count = 0, flags = '{tlsa-insecure}' WHERE host = 'mx.unsigned-tlsa.net';

-- Certificates: A (a leaf) and B (its issuer). der is a stand-in; the TLSA
-- data below is computed from these values as a TLSA record would be.
INSERT INTO certificates (sha256, der, subject, key_type, key_bits, spki_sha256) VALUES
  (decode(repeat('aa', 32), 'hex'), '\x3001', 'CN=leaf A', 'EC', 256, decode(repeat('ab', 32), 'hex')),
  (decode(repeat('bb', 32), 'hex'), '\x3002', 'CN=issuer B', 'RSA', 2048, decode(repeat('bc', 32), 'hex'))
ON CONFLICT DO NOTHING;

-- TLSA records of m-4 (position = order of tlsa_params):
--   mx1.example.co.uk 0: 3 1 1 SPKI of A        matches the leaf
--                     1: 3 0 1 cert of B        no match: DANE-EE looks at the leaf only
--                     2: 2 0 1 cert of B        matches at depth 1
--                     3: 3 1 1 another key      no match (the "next" key of a rollover)
--   mx2.example.co.uk 0: 3 1 1 another key      no match
--   mx.quick.org      0: 3 0 2 SHA-512 of A     matches (recomputed with sha512())
--   mail.legacy.co.uk 0: 3 1 2 (not recomputable from stored data): the probe
--                        recorded it as its match (matched_tlsa = 0)
--   mx.down.net, implicit.test: served no certificate (not counted)
--   mx.unsigned-tlsa.net: insecure RRset (not counted)
INSERT INTO tlsa_records (scan_id, host, position, usage, selector, matching_type, data, usable)
SELECT h.scan_id, h.host, p.n - 1, split_part(p.t, ' ', 1)::smallint, split_part(p.t, ' ', 2)::smallint,
       split_part(p.t, ' ', 3)::smallint, decode(repeat('ee', 32), 'hex'), true
  FROM mx_hosts h, unnest(h.tlsa_params) WITH ORDINALITY p(t, n);
UPDATE tlsa_records SET data = decode(repeat('ab', 32), 'hex') WHERE scan_id = 'm-4' AND host = 'mx1.example.co.uk' AND position = 0;
UPDATE tlsa_records SET data = decode(repeat('bb', 32), 'hex') WHERE scan_id = 'm-4' AND host = 'mx1.example.co.uk' AND position IN (1, 2);
UPDATE tlsa_records SET data = decode(repeat('cd', 32), 'hex') WHERE scan_id = 'm-4' AND host = 'mx1.example.co.uk' AND position = 3;
UPDATE tlsa_records SET data = sha512('\x3001'::bytea) WHERE scan_id = 'm-4' AND host = 'mx.quick.org';
UPDATE tlsa_records SET data = decode(repeat('99', 64), 'hex') WHERE scan_id = 'm-4' AND host = 'mail.legacy.co.uk';

-- Probes of m-4. mx.slow.net (no TLSA, probed as with --probe all) timed out
-- on every address: it accepts no connections. mx.down.net: refused.
INSERT INTO probes (scan_id, host, address, probe_no, result, matched_tlsa, leaf_sha256) VALUES
  ('m-4', 'mx1.example.co.uk', '192.0.2.1', 0, 'authenticated', 0, decode(repeat('aa', 32), 'hex')),
  ('m-4', 'mx2.example.co.uk', '192.0.2.2', 0, 'tlsa-mismatch', NULL, decode(repeat('aa', 32), 'hex')),
  ('m-4', 'mx.quick.org', '192.0.2.3', 0, 'authenticated', 0, decode(repeat('aa', 32), 'hex')),
  ('m-4', 'mail.legacy.co.uk', '192.0.2.4', 0, 'authenticated', 0, decode(repeat('aa', 32), 'hex')),
  ('m-4', 'mx.down.net', '192.0.2.5', 0, 'connect-failed', NULL, NULL),
  ('m-4', 'mx.slow.net', '192.0.2.6', 0, 'timeout', NULL, NULL),
  ('m-4', 'mx.slow.net', '2001:db8::6', 0, 'timeout', NULL, NULL),
  ('m-4', 'implicit.test', '192.0.2.7', 0, 'authenticated', 0, NULL);
INSERT INTO probe_chain (scan_id, host, address, probe_no, depth, cert_sha256) VALUES
  ('m-4', 'mx1.example.co.uk', '192.0.2.1', 0, 0, decode(repeat('aa', 32), 'hex')),
  ('m-4', 'mx1.example.co.uk', '192.0.2.1', 0, 1, decode(repeat('bb', 32), 'hex')),
  ('m-4', 'mx2.example.co.uk', '192.0.2.2', 0, 0, decode(repeat('aa', 32), 'hex')),
  ('m-4', 'mx.quick.org', '192.0.2.3', 0, 0, decode(repeat('aa', 32), 'hex')),
  ('m-4', 'mail.legacy.co.uk', '192.0.2.4', 0, 0, decode(repeat('aa', 32), 'hex'));
