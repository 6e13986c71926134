-- danescan schema, migration 1: status types, scans, per-scan result tables
-- (list-partitioned by scan_id: one partition per scan, created when the scan
-- starts by danescan_create_scan_partitions, dropped whole by
-- danescan_drop_scan), certificates stored once by SHA-256.
-- The enum words are those of shared/spec/RESULTS.md and must equal the C
-- table in scanner/pipeline/status.c (tests/integration/test_store_pg.py
-- checks it). New words are added with ALTER TYPE ... ADD VALUE, never renamed.

CREATE TYPE dnssec_state AS ENUM ('secure', 'insecure', 'bogus', 'failed');

CREATE TYPE probe_result AS ENUM (
  'authenticated', 'tlsa-mismatch', 'name-mismatch', 'cert-expired', 'no-starttls',
  'starttls-refused', 'tls-failed', 'smtp-failed', 'connect-failed', 'timeout',
  'unauthenticated-tls', 'skipped');

CREATE TYPE host_status AS ENUM (
  'dane-valid', 'dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed', 'no-tlsa',
  'insecure', 'address-failed', 'no-address', 'dane-unprobed');

CREATE TYPE domain_status AS ENUM (
  'invalid-name', 'lookup-failed', 'dnssec-bogus', 'nxdomain', 'null-mx', 'no-mail', 'insecure',
  'dane-failed', 'dane-unreachable', 'dane-valid', 'dane-partial', 'tlsa-unusable', 'no-dane',
  'dane-unprobed');

CREATE TYPE rollover_class AS ENUM ('none', 'single', 'current+next', 'current+issuer', 'issuer');

-- One row per scan. id is the scan id of the JSON Lines output.
CREATE TABLE scans (
  id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._:-]{1,64}$'),
  started_at    timestamptz NOT NULL DEFAULT now(),
  ended_at      timestamptz,                 -- last time a run of the scan ended
  complete      boolean,                     -- every input name stored (NULL: run ended, not reported)
  error         text,                        -- why the last run stopped early
  runs          integer NOT NULL DEFAULT 1,  -- 1 + number of resumes
  software      text NOT NULL,
  host          text,                        -- machine that ran the scan
  cwd           text,                        -- working directory (resume runs there)
  command_line  text[] NOT NULL,             -- argv of `danescan scan` (argv[0] = "scan")
  inputs        jsonb,                       -- [{"name": ..., "sha256": ...}]
  parameters    jsonb,                       -- probe mode, concurrency, resolvers, ...
  input_names   bigint,                      -- names read from the inputs (last run)
  domains       bigint                       -- domain rows stored
);

-- Progress: each writer batch commits its rows and its set of input ordinals
-- in one transaction; resume skips the union of seqs.
CREATE TABLE scan_batches (
  scan_id       text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  batch_no      bigint NOT NULL,
  seqs          int8multirange NOT NULL,
  domain_rows   integer NOT NULL,
  committed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scan_id, batch_no)
);

CREATE TABLE domains (
  scan_id          text NOT NULL,
  seq              bigint NOT NULL,            -- input ordinal (resume key)
  domain           text NOT NULL,              -- lower case, no trailing dot (escaped raw input for invalid-name)
  tld              text,                       -- last label; NULL for invalid-name
  status           domain_status NOT NULL,
  invalid_reason   text,
  mx_dnssec        dnssec_state,               -- secure/insecure MX RRset (NULL if the lookup failed)
  mx_lookup_dnssec dnssec_state,               -- DNSSEC state of the MX lookup itself
  mx_rcode         text,
  mx_ede_code      integer,
  mx_ede_text      text,
  mx_failure       text,
  mx_attempts      integer,
  mx_elapsed_ms    integer,
  implicit_mx      boolean,
  null_mx_mixed    boolean,
  mx_truncated     boolean,
  mx_count         integer NOT NULL DEFAULT 0, -- MX hosts linked (domain_mx rows)
  island           text,                       -- --islands result, NULL if not checked
  input_file       integer,
  input_line       bigint,
  rank             bigint,
  started_at       timestamptz,
  elapsed_ms       integer,
  PRIMARY KEY (scan_id, seq)
) PARTITION BY LIST (scan_id);
CREATE INDEX domains_domain_idx ON domains (domain);
CREATE INDEX domains_status_idx ON domains (status);

-- Domain to MX host, with preference.
CREATE TABLE domain_mx (
  scan_id     text NOT NULL,
  seq         bigint NOT NULL,
  domain      text NOT NULL,
  preference  integer NOT NULL,
  host        text NOT NULL
) PARTITION BY LIST (scan_id);
CREATE INDEX domain_mx_seq_idx ON domain_mx (seq);
CREATE INDEX domain_mx_host_idx ON domain_mx (host);

-- MX hosts: once per scan (shared by every domain naming them).
CREATE TABLE mx_hosts (
  scan_id            text NOT NULL,
  host               text NOT NULL,
  status             host_status NOT NULL,
  address_dnssec     dnssec_state,
  cname_target       text,
  tlsa_base          text,
  flags              text[] NOT NULL,
  rollover           rollover_class NOT NULL,
  tlsa_params        text[] NOT NULL,        -- "usage selector matching_type" triples
  address_count      integer NOT NULL,
  tlsa_count         integer NOT NULL,
  tlsa_usable_count  integer NOT NULL,
  a_dnssec           dnssec_state,
  a_rcode            text,
  aaaa_dnssec        dnssec_state,
  aaaa_rcode         text,
  tlsa_dnssec        dnssec_state,
  tlsa_rcode         text,
  tlsa_ede_code      integer,
  tlsa_ede_text      text,
  tlsa_failure       text,
  resolve_ms         integer,
  PRIMARY KEY (scan_id, host)
) PARTITION BY LIST (scan_id);

CREATE TABLE tlsa_records (
  scan_id          text NOT NULL,
  host             text NOT NULL,
  position         integer NOT NULL,        -- order in the RRset as answered
  usage            smallint NOT NULL,
  selector         smallint NOT NULL,
  matching_type    smallint NOT NULL,
  data             bytea NOT NULL,
  usable           boolean NOT NULL,
  unusable_reason  text
) PARTITION BY LIST (scan_id);

CREATE TABLE addresses (
  scan_id   text NOT NULL,
  host      text NOT NULL,
  address   inet NOT NULL,
  family    smallint NOT NULL
) PARTITION BY LIST (scan_id);

-- One row per STARTTLS probe of an address (probe_no > 0 when one address is
-- probed more than once, e.g. once per certificate algorithm). In DNS-only
-- mode every address has one row with result 'skipped' and the reason.
CREATE TABLE probes (
  scan_id        text NOT NULL,
  host           text NOT NULL,
  address        inet NOT NULL,
  probe_no       smallint NOT NULL DEFAULT 0,
  result         probe_result NOT NULL,
  reason         text,
  -- Filled from struct probe_detail (pg_rows_format_probe_detail) once the
  -- STARTTLS stage provides it; NULL until then.
  tls_version    text,
  cipher         text,
  kx_group       text,
  peer_sig_alg   text,
  matched_tlsa   integer,     -- tlsa_records.position of the record that matched
  match_depth    integer,     -- chain depth of the match (0 = leaf)
  banner         bytea,       -- raw SMTP greeting (may hold any bytes), capped
  banner_text    text,        -- the greeting as safe UTF-8 text, capped
  ehlo_keywords  text[],
  connect_ms     integer,
  smtp_ms        integer,
  tls_ms         integer,
  total_ms       integer,
  leaf_sha256    bytea        -- certificates.sha256 of the leaf
) PARTITION BY LIST (scan_id);

-- The chain a probe saw, leaf first.
CREATE TABLE probe_chain (
  scan_id      text NOT NULL,
  host         text NOT NULL,
  address      inet NOT NULL,
  probe_no     smallint NOT NULL DEFAULT 0,
  depth        smallint NOT NULL,
  cert_sha256  bytea NOT NULL
) PARTITION BY LIST (scan_id);

-- Certificates, stored once (upserted by SHA-256 of the DER).
CREATE TABLE certificates (
  sha256       bytea PRIMARY KEY CHECK (length(sha256) = 32),
  der          bytea NOT NULL,
  subject      text,
  issuer       text,
  san          text[],
  not_before   timestamptz,
  not_after    timestamptz,
  key_type     text,
  key_bits     integer,
  spki_sha256  bytea,
  first_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificates_spki_idx ON certificates (spki_sha256);

-- The per-scan tables, in one place for the functions below.
CREATE FUNCTION danescan_scan_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['domains', 'domain_mx', 'mx_hosts', 'tlsa_records', 'addresses', 'probes', 'probe_chain']
$$;

CREATE FUNCTION danescan_partition_name(tbl text, scan text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT tbl || '_' || left(regexp_replace(lower(scan), '[^a-z0-9]', '_', 'g'), 32) || '_' || left(md5(scan), 8)
$$;

-- Creates the partitions of one scan (idempotent).
CREATE FUNCTION danescan_create_scan_partitions(scan text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tbl text;
BEGIN
  FOREACH tbl IN ARRAY danescan_scan_tables() LOOP
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES IN (%L)',
                   danescan_partition_name(tbl, scan), tbl, scan);
  END LOOP;
END
$$;

-- Drops a scan whole: its partitions, progress and scans row.
CREATE FUNCTION danescan_drop_scan(scan text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tbl text;
BEGIN
  FOREACH tbl IN ARRAY danescan_scan_tables() LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I', danescan_partition_name(tbl, scan));
  END LOOP;
  DELETE FROM scans WHERE id = scan;
END
$$;
