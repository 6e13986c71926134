-- danescan schema, migration 14: MTA-STS and TLS-RPT beside DANE (issue 18,
-- shared/spec/MTA-STS.md). One domain_mta_sts row per domain and scan that
-- was checked (`scan --mta-sts`, domains with mail); domain_mx.mta_sts_match
-- says per MX link whether the host matches a pattern of the domain's
-- policy. The enum words equal the C table in scanner/record/status.c
-- (tests/integration/test_store_pg.py checks it); new words are added with
-- ALTER TYPE ... ADD VALUE, never renamed.

CREATE TYPE mta_sts_status AS ENUM (
  'none', 'record-invalid', 'policy-unavailable', 'policy-invalid', 'mode-none', 'mx-mismatch',
  'cert-invalid', 'cert-unchecked', 'valid');

CREATE TYPE mta_sts_mode AS ENUM ('enforce', 'testing', 'none');

CREATE TYPE tlsrpt_record_status AS ENUM ('none', 'invalid', 'valid');

-- Per probe, the WebPKI (PKIX) verdict of its TLS session for the MX host
-- name (MTA-STS.md: per probed address `pkix`); NULL when not checked (a
-- scan without --mta-sts, or a row stored before this migration). The
-- words equal probe_pkix_words in scanner/record/status.c.
CREATE TYPE probe_pkix AS ENUM ('not-checked', 'valid', 'no-tls', 'tls-version', 'untrusted', 'expired',
                                'name-mismatch', 'invalid');
ALTER TABLE probes ADD COLUMN pkix probe_pkix, ADD COLUMN pkix_reason text;

CREATE TABLE domain_mta_sts (
  scan_id               text NOT NULL,
  seq                   bigint NOT NULL,             -- domains.seq
  domain                text NOT NULL,
  status                mta_sts_status NOT NULL,
  failure               text,                        -- why, for every status but none, mode-none, valid
  id                    text,                        -- the _mta-sts record's id (valid record only)
  mode                  mta_sts_mode,                -- of a valid policy
  max_age               bigint,                      -- seconds, of a valid policy
  mx_patterns           text[],                      -- the policy's mx lines, lower case, in order
  http_status           integer,                     -- of the policy fetch (NULL: no response)
  record_dnssec         dnssec_state,                -- TXT _mta-sts.DOMAIN
  record_rcode          text,
  record_failure        text,                        -- the lookup's failure (timeout, servfail, ...)
  policy_host_dnssec    dnssec_state,                -- A/AAAA mta-sts.DOMAIN, the worse of the two (NULL: not looked up)
  tlsrpt_status         tlsrpt_record_status NOT NULL,
  tlsrpt_rua            text[],                      -- the valid rua URIs
  tlsrpt_failure        text,
  tlsrpt_dnssec         dnssec_state,                -- TXT _smtp._tls.DOMAIN
  tlsrpt_rcode          text,
  PRIMARY KEY (scan_id, seq)
) PARTITION BY LIST (scan_id);
CREATE INDEX domain_mta_sts_status_idx ON domain_mta_sts (status);

ALTER TABLE domain_mx ADD COLUMN mta_sts_match boolean; -- NULL: no policy with patterns (or not checked)

CREATE OR REPLACE FUNCTION danescan_scan_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['domains', 'domain_mx', 'mx_hosts', 'tlsa_records', 'addresses', 'probes', 'probe_chain',
               'scan_inputs', 'domain_mta_sts']
$$;

-- Scans stored before this migration get their (empty) partition, so a
-- resumed run can store MTA-STS rows.
DO $$
DECLARE
  scan text;
BEGIN
  FOR scan IN SELECT id FROM scans LOOP
    PERFORM danescan_create_scan_partitions(scan);
  END LOOP;
END
$$;

-- Researchers: DANE and MTA-STS side by side, one row per domain with mail
-- that was checked for MTA-STS. dane: the domain publishes TLSA under
-- DNSSEC (any DANE status: valid, partial, failed, unreachable, unusable,
-- unprobed); mta_sts: a v=STSv1 record exists (any status but none).
CREATE VIEW dane_mta_sts AS
SELECT d.scan_id, d.seq, d.domain, d.tld, d.status AS dane_status,
       d.status IN ('dane-valid', 'dane-partial', 'dane-failed', 'dane-unreachable', 'tlsa-unusable',
                    'dane-unprobed') AS dane,
       d.status = 'dane-valid' AS dane_valid,
       m.status AS mta_sts_status,
       m.status <> 'none' AS mta_sts,
       m.status = 'valid' AS mta_sts_valid,
       m.mode AS mta_sts_mode,
       m.failure AS mta_sts_failure,
       m.tlsrpt_status,
       m.tlsrpt_status = 'valid' AS tlsrpt,
       CASE
         WHEN d.status IN ('dane-valid', 'dane-partial', 'dane-failed', 'dane-unreachable', 'tlsa-unusable',
                           'dane-unprobed') AND m.status <> 'none' THEN 'both'
         WHEN d.status IN ('dane-valid', 'dane-partial', 'dane-failed', 'dane-unreachable', 'tlsa-unusable',
                           'dane-unprobed') THEN 'dane-only'
         WHEN m.status <> 'none' THEN 'mta-sts-only'
         ELSE 'neither'
       END AS deployment
FROM domains d
JOIN domain_mta_sts m ON m.scan_id = d.scan_id AND m.seq = d.seq;

-- The MX hosts of each checked domain with their pattern match and DANE
-- host status.
CREATE VIEW mta_sts_hosts AS
SELECT l.scan_id, l.seq, l.domain, l.preference, l.host, l.mta_sts_match, h.status AS host_status,
       danescan_host_provider(l.host, h.provider) AS provider, m.status AS mta_sts_status, m.mode AS mta_sts_mode
FROM domain_mx l
JOIN domain_mta_sts m ON m.scan_id = l.scan_id AND m.seq = l.seq
LEFT JOIN mx_hosts h ON h.scan_id = l.scan_id AND h.host = l.host;

GRANT SELECT ON domain_mta_sts, dane_mta_sts, mta_sts_hosts TO danescan_reader;
