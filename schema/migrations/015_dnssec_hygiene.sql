-- danescan schema, migration 15 (issue 19): DNSSEC hygiene of the zones that
-- matter to a domain (docs/output.md "DNSSEC hygiene"): the zone of its MX
-- RRset and the zones of its hosts' TLSA RRsets, each looked up once per scan
-- and process (DNSKEY, DS, NSEC3PARAM at the apex through the validating
-- resolver). Stored beside the domain rows, one row per domain and zone (the
-- zone's facts repeat for every domain that names it, as the JSON Lines
-- record does; with the default --dnssec-hygiene dane only DANE domains have
-- rows); the view dnssec_zones gives one row per scan and zone.
--   domain_dnssec_zones   per domain and zone: roles, keys, DS, denial,
--                         NSEC3 parameters, expirations, flags
--   dnssec_zones (view)   per scan and zone, with the number of domains
--   dnssec_hygiene_dane (view)  per DANE domain: its zones' findings as booleans
-- The words (flags, levels, verdicts) are those of scanner/record/zone_hygiene.c.

CREATE TABLE domain_dnssec_zones (
  scan_id               text NOT NULL,
  seq                   bigint NOT NULL,        -- domains.seq
  domain                text NOT NULL,
  zone                  text NOT NULL,          -- apex (RRSIG signer), lower case, no trailing dot
  roles                 text[] NOT NULL,        -- 'mx' and/or 'tlsa'
  dnskey_dnssec         dnssec_state,           -- the DNSKEY answer (NULL: not answered)
  ds_dnssec             dnssec_state,
  key_algorithms        smallint[] NOT NULL,    -- per DNSKEY (at most 8), in answer order
  key_bits              integer[] NOT NULL,     -- same order: RSA modulus, 256 for P-256/Ed25519, ...
  key_flags             integer[] NOT NULL,     -- same order: 257 KSK (SEP), 256 ZSK
  ds_digest_types       smallint[] NOT NULL,    -- per DS in the parent (at most 8)
  denial                text,                   -- 'nsec', 'nsec3', NULL: not seen
  nsec3_iterations      integer,                -- NSEC3 only
  nsec3_salt_length     smallint,               -- bytes, NSEC3 only
  nsec3_verdict         text,                   -- RFC 9276: recommended, not-recommended, insecure-iterations
  dnskey_rrsig_expires  timestamptz,            -- earliest RRSIG over the DNSKEY RRset
  rrsig_expires         timestamptz,            -- earliest over DNSKEY and this domain's MX/TLSA RRsets in the zone
  flags                 text[] NOT NULL,        -- alg-must-not, alg-not-recommended, ds-sha1, ds-digest-must-not,
                                                -- nsec3-salt, nsec3-iterations, nsec3-insecure-iterations,
                                                -- rrsig-expires-soon (judged when the domain was decided)
  PRIMARY KEY (scan_id, seq, zone)
) PARTITION BY LIST (scan_id);
CREATE INDEX domain_dnssec_zones_zone_idx ON domain_dnssec_zones (zone);

CREATE OR REPLACE FUNCTION danescan_scan_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['domains', 'domain_mx', 'mx_hosts', 'tlsa_records', 'addresses', 'probes', 'probe_chain',
               'scan_inputs', 'domain_mta_sts', 'domain_dnssec_zones']
$$;

-- Scans stored before this migration get their (empty) partition, so a
-- resumed run can store zone rows.
DO $$
DECLARE
  scan text;
BEGIN
  FOR scan IN SELECT id FROM scans LOOP
    PERFORM danescan_create_scan_partitions(scan);
  END LOOP;
END
$$;

-- One row per scan and zone. The zone's facts are those of its first stored
-- row (workers each look a zone up once; they agree unless the zone changed
-- during the scan); rrsig-expires-soon is left to the per-domain rows, and
-- earliest_rrsig_expires is the earliest any domain saw.
CREATE VIEW dnssec_zones AS
SELECT z.scan_id, z.zone,
       count(*) AS domains,
       bool_or('mx' = ANY (z.roles)) AS mx_zone,
       bool_or('tlsa' = ANY (z.roles)) AS tlsa_zone,
       (array_agg(z.dnskey_dnssec ORDER BY z.seq))[1] AS dnskey_dnssec,
       (array_agg(z.ds_dnssec ORDER BY z.seq))[1] AS ds_dnssec,
       (array_agg(array_to_string(z.key_algorithms, ',') ORDER BY z.seq))[1] AS key_algorithms,
       (array_agg(array_to_string(z.key_bits, ',') ORDER BY z.seq))[1] AS key_bits,
       (array_agg(array_to_string(z.ds_digest_types, ',') ORDER BY z.seq))[1] AS ds_digest_types,
       (array_agg(z.denial ORDER BY z.seq))[1] AS denial,
       (array_agg(z.nsec3_iterations ORDER BY z.seq))[1] AS nsec3_iterations,
       (array_agg(z.nsec3_salt_length ORDER BY z.seq))[1] AS nsec3_salt_length,
       (array_agg(z.nsec3_verdict ORDER BY z.seq))[1] AS nsec3_verdict,
       min(z.dnskey_rrsig_expires) AS dnskey_rrsig_expires,
       min(z.rrsig_expires) AS earliest_rrsig_expires,
       (array_agg(array_to_string(array_remove(z.flags, 'rrsig-expires-soon'), ',') ORDER BY z.seq))[1]
         AS zone_flags
  FROM domain_dnssec_zones z
 GROUP BY z.scan_id, z.zone;

-- Per DANE domain (a DANE status: a host with a secure, non-empty TLSA RRset): one boolean per finding over its zones.
CREATE VIEW dnssec_hygiene_dane AS
SELECT d.scan_id, d.seq, d.domain, d.status,
       count(z.zone) AS zones,
       bool_or(z.flags && ARRAY['alg-must-not', 'alg-not-recommended']::text[]) AS weak_algorithm,
       bool_or(1 = ANY (z.ds_digest_types)) AS sha1_ds,
       bool_or(z.denial = 'nsec3') AS nsec3,
       bool_or(z.flags && ARRAY['nsec3-salt', 'nsec3-iterations']::text[]) AS nsec3_not_recommended,
       bool_or('nsec3-insecure-iterations' = ANY (z.flags)) AS nsec3_insecure_iterations,
       bool_or('rrsig-expires-soon' = ANY (z.flags)) AS rrsig_expires_soon,
       min(z.rrsig_expires) AS earliest_rrsig_expires
  FROM domains d
  JOIN domain_dnssec_zones z ON z.scan_id = d.scan_id AND z.seq = d.seq
 WHERE d.status IN ('dane-valid', 'dane-partial', 'dane-failed', 'dane-unreachable', 'tlsa-unusable',
                    'dane-unprobed')
 GROUP BY d.scan_id, d.seq, d.domain, d.status;

GRANT SELECT ON domain_dnssec_zones, dnssec_zones, dnssec_hygiene_dane TO danescan_reader;
