-- danescan schema, migration 10: provider attribution by the Public Suffix
-- List and the longitudinal views (issue 17).
--   mx_hosts.provider   the registrable domain (eTLD+1) of the MX host name
--                       by the Public Suffix List, ICANN and private sections,
--                       computed by the scanner when it stores the host
--                       (record/provider.c, libpsl); '' when the name has
--                       none (it is a public suffix, e.g. "co.uk"); NULL in
--                       rows stored before this migration
--   danescan_host_provider(host, provider)
--                       the provider to group by: the column, NULL for '',
--                       and for rows stored before this migration the old
--                       rule (last two labels of the host name)
--   mx_providers        (migration 2) now groups by that provider
--   scan_input_sets     each scan's input set: the sorted SHA-256 digests of
--                       its input files, as reports/trend.sql compares them
--   domain_dane_seen    per input set and domain: first and last scan in
--                       which the domain was dane-valid
--   domain_failure_episodes
--                       per input set and domain: each run of consecutive
--                       scans in which the domain was a DANE failure, the
--                       scan that ended it, how, and after how long
-- Definitions and citations: reports/README.md ("Published metrics",
-- "Longitudinal").

ALTER TABLE mx_hosts ADD COLUMN provider text;

CREATE FUNCTION danescan_host_provider(host text, provider text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN provider IS NULL THEN coalesce(substring(host FROM '([^.]+\.[^.]+)$'), host)
              ELSE nullif(provider, '') END
$$;

-- Same columns as in migration 2; hosts without a provider (a public
-- suffix as MX host) are left out.
CREATE OR REPLACE VIEW mx_providers AS
SELECT m.scan_id,
       danescan_host_provider(h.host, h.provider) AS provider,
       count(DISTINCT m.host) AS hosts,
       count(DISTINCT m.seq) AS domains,
       count(DISTINCT m.host) FILTER (WHERE h.status = 'dane-valid') AS dane_valid_hosts,
       count(DISTINCT m.host) FILTER (WHERE h.status IN ('dane-failed', 'tlsa-failed')) AS dane_failed_hosts,
       count(DISTINCT m.host) FILTER (WHERE h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0) AS hosts_with_tlsa,
       count(DISTINCT m.seq) FILTER (WHERE h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0) AS domains_with_tlsa
  FROM domain_mx m
  JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
 WHERE danescan_host_provider(h.host, h.provider) IS NOT NULL
 GROUP BY 1, 2;

-- A scan's input set: the sorted digests of its input files (a scan
-- without recorded inputs is a set of its own: 'scan:' || id).
CREATE VIEW scan_input_sets AS
SELECT s.id AS scan_id, s.started_at,
       coalesce((SELECT jsonb_agg(e->'sha256' ORDER BY e->>'sha256') FROM jsonb_array_elements(s.inputs) e)::text,
                'scan:' || s.id) AS input_set
  FROM scans s;

-- First and last dane-valid scan of each domain within its input set.
CREATE VIEW domain_dane_seen AS
SELECT i.input_set, d.domain,
       count(*) AS scans,
       count(*) FILTER (WHERE d.status = 'dane-valid') AS dane_valid_scans,
       (array_agg(d.scan_id ORDER BY i.started_at, d.scan_id) FILTER (WHERE d.status = 'dane-valid'))[1]
         AS first_dane_valid_scan,
       min(i.started_at) FILTER (WHERE d.status = 'dane-valid') AS first_dane_valid_at,
       (array_agg(d.scan_id ORDER BY i.started_at DESC, d.scan_id DESC) FILTER (WHERE d.status = 'dane-valid'))[1]
         AS last_dane_valid_scan,
       max(i.started_at) FILTER (WHERE d.status = 'dane-valid') AS last_dane_valid_at,
       (array_agg(d.status ORDER BY i.started_at DESC, d.scan_id DESC))[1] AS latest_status
  FROM domains d
  JOIN scan_input_sets i ON i.scan_id = d.scan_id
 GROUP BY i.input_set, d.domain;

-- Failure episodes: a run of consecutive scans (of the domain's input set,
-- ordered by start time; scans without the domain are skipped) in which the
-- domain's status is a DANE failure (dane-failed, dane-unreachable,
-- tlsa-unusable). end_kind: 'fixed' (the next scan has it dane-valid or
-- dane-partial), 'left' (the next scan has another status: DANE removed, the
-- domain gone, or a DNS failure; end_status says which), 'open' (still
-- failing in the latest scan). duration: from the first failing scan's start
-- to the ending scan's start (an upper bound of the time to fix, at the
-- resolution of the scan interval). providers: the providers of the MX hosts
-- that were failures (dane-failed, dane-unreachable, tlsa-unusable,
-- tlsa-failed) in the first failing scan.
CREATE VIEW domain_failure_episodes AS
WITH history AS (
  SELECT i.input_set, d.domain, d.scan_id, d.seq, i.started_at, d.status,
         d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable') AS failing
    FROM domains d
    JOIN scan_input_sets i ON i.scan_id = d.scan_id
), marked AS (
  SELECT h.*,
         lag(h.failing) OVER w AS was_failing,
         row_number() OVER w AS position
    FROM history h
  WINDOW w AS (PARTITION BY h.input_set, h.domain ORDER BY h.started_at, h.scan_id)
), starts AS (
  SELECT * FROM marked WHERE failing AND was_failing IS NOT TRUE
), ends AS (
  SELECT * FROM marked WHERE NOT failing AND was_failing
), episodes AS (
  SELECT s.input_set, s.domain, s.scan_id AS failed_scan_id, s.seq AS failed_seq, s.started_at AS failed_at,
         s.status AS failed_status,
         (SELECT e.scan_id FROM ends e
           WHERE e.input_set = s.input_set AND e.domain = s.domain AND e.position > s.position
           ORDER BY e.position LIMIT 1) AS end_scan_id
    FROM starts s
)
SELECT ep.input_set, ep.domain, ep.failed_scan_id, ep.failed_at, ep.failed_status,
       e.scan_id AS end_scan_id, e.started_at AS ended_at, e.status AS end_status,
       CASE WHEN e.scan_id IS NULL THEN 'open'
            WHEN e.status IN ('dane-valid', 'dane-partial') THEN 'fixed'
            ELSE 'left' END AS end_kind,
       e.started_at - ep.failed_at AS duration,
       (SELECT array_agg(DISTINCT danescan_host_provider(h.host, h.provider) ORDER BY danescan_host_provider(h.host, h.provider))
          FROM domain_mx m
          JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
         WHERE m.scan_id = ep.failed_scan_id AND m.seq = ep.failed_seq
           AND h.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed')
           AND danescan_host_provider(h.host, h.provider) IS NOT NULL) AS providers
  FROM episodes ep
  LEFT JOIN marked e ON e.input_set = ep.input_set AND e.domain = ep.domain AND e.scan_id = ep.end_scan_id;

GRANT SELECT ON mx_providers, scan_input_sets, domain_dane_seen, domain_failure_episodes TO danescan_reader;
