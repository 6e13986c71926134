-- danescan schema, migration 17: DNS-operator attribution (issue 17).
--   domain_dns_operators
--                 per scan and domain: the DNS operators of the domain's
--                 zone, from the NS records of the zone-file input that
--                 delegated it (no DNS query is made). One row per distinct
--                 operator: the registrable domain (eTLD+1) of NS target
--                 names by the Public Suffix List, as mx_hosts.provider
--                 (record/provider.c); '' for targets that have none (a
--                 public suffix); ns_hosts: that operator's NS targets, in
--                 zone order. A domain whose name servers belong to several
--                 operators has a row for each (it counts for each). No
--                 rows for a domain read from a list or CSV input (no NS
--                 data), an invalid name, or a domain whose NS targets are
--                 all unusable (not host names).
--   scan_inputs.ns
--                 the NS targets of a queued scan's input name, space-
--                 separated (NULL: none), so workers store the operators
--                 too.
-- Definitions: reports/README.md ("DNS operators").

CREATE TABLE domain_dns_operators (
  scan_id   text NOT NULL,
  seq       bigint NOT NULL,   -- domains.seq
  domain    text NOT NULL,
  operator  text NOT NULL,     -- registrable domain of the NS targets; '' none
  ns_hosts  text[] NOT NULL,   -- the domain's NS targets run by this operator
  PRIMARY KEY (scan_id, seq, operator)
) PARTITION BY LIST (scan_id);
CREATE INDEX domain_dns_operators_operator_idx ON domain_dns_operators (operator);

ALTER TABLE scan_inputs ADD COLUMN ns text;

CREATE OR REPLACE FUNCTION danescan_scan_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['domains', 'domain_mx', 'mx_hosts', 'tlsa_records', 'addresses', 'probes', 'probe_chain',
               'scan_inputs', 'domain_mta_sts', 'domain_dnssec_zones', 'domain_dns_operators']
$$;

-- Scans stored before this migration get their (empty) partition, so a
-- resumed run can store operator rows.
DO $$
DECLARE
  scan text;
BEGIN
  FOR scan IN SELECT id FROM scans LOOP
    PERFORM danescan_create_scan_partitions(scan);
  END LOOP;
END
$$;

-- Researchers: per scan and DNS operator, the domains it serves and
-- their DANE outcome (broken: dane-failed, dane-unreachable or
-- tlsa-unusable, as in reports/providers_broken.sql).
CREATE VIEW dns_operators AS
SELECT o.scan_id, nullif(o.operator, '') AS operator,
       count(*) AS domains,
       count(*) FILTER (WHERE d.status IN ('dane-valid', 'dane-partial', 'dane-failed', 'dane-unreachable',
                                           'tlsa-unusable', 'dane-unprobed')) AS dane_domains,
       count(*) FILTER (WHERE d.status = 'dane-valid') AS dane_valid_domains,
       count(*) FILTER (WHERE d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')) AS broken_domains
  FROM domain_dns_operators o
  JOIN domains d ON d.scan_id = o.scan_id AND d.seq = o.seq
 GROUP BY 1, 2;

GRANT SELECT ON domain_dns_operators, dns_operators TO danescan_reader;
