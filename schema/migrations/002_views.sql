-- danescan schema, migration 2: researcher views (documented with example
-- queries in schema/README.md). "secure MX" statistics say which of the two
-- RESULTS.md counts they give: with a secure MX RRset (the survey's
-- definition) or through the provider's hosts only.

-- Latest result per domain: the most recent scan (by start time) that has it.
CREATE VIEW domain_latest AS
SELECT DISTINCT ON (d.domain)
       d.domain, d.status, d.scan_id, s.started_at AS scan_started_at, d.tld, d.mx_dnssec,
       d.mx_count, d.implicit_mx, d.invalid_reason, d.seq
  FROM domains d
  JOIN scans s ON s.id = d.scan_id
 ORDER BY d.domain, s.started_at DESC, d.scan_id DESC;

-- Every domain's MX hosts with their status (one row per link).
CREATE VIEW domain_hosts AS
SELECT m.scan_id, m.domain, m.seq, m.preference, m.host, h.status AS host_status,
       h.address_dnssec, h.tlsa_dnssec, h.tlsa_count, h.tlsa_usable_count, h.rollover, h.flags
  FROM domain_mx m
  JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host;

-- Per domain and scan: the facts the funnel and the TLD view count.
CREATE VIEW domain_summary AS
SELECT d.scan_id, d.seq, d.domain, d.tld, d.status, d.mx_dnssec, d.mx_count, d.implicit_mx,
       coalesce(bool_or(h.address_dnssec = 'secure'), false) AS any_secure_host,
       coalesce(bool_or(h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0), false) AS any_tlsa
  FROM domains d
  LEFT JOIN domain_mx m ON m.scan_id = d.scan_id AND m.seq = d.seq
  LEFT JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
 GROUP BY d.scan_id, d.seq, d.domain, d.tld, d.status, d.mx_dnssec, d.mx_count, d.implicit_mx;

-- Adoption funnel per scan.
CREATE VIEW scan_funnel AS
SELECT scan_id,
       count(*) AS domains,
       count(*) FILTER (WHERE mx_count > 0) AS with_mx,
       count(*) FILTER (WHERE mx_dnssec = 'secure') AS signed,
       count(*) FILTER (WHERE mx_dnssec = 'secure' AND any_secure_host) AS secure_mx,
       count(*) FILTER (WHERE any_tlsa) AS with_tlsa,
       count(*) FILTER (WHERE any_tlsa AND mx_dnssec = 'secure') AS with_tlsa_secure_mx,
       count(*) FILTER (WHERE status = 'dane-valid') AS dane_valid,
       count(*) FILTER (WHERE status = 'dane-valid' AND mx_dnssec = 'secure') AS dane_valid_secure_mx,
       count(*) FILTER (WHERE status = 'dane-partial') AS dane_partial,
       count(*) FILTER (WHERE status = 'dane-failed') AS dane_failed,
       count(*) FILTER (WHERE status = 'dane-unprobed') AS dane_unprobed
  FROM domain_summary
 GROUP BY scan_id;

-- Adoption per TLD and scan.
CREATE VIEW adoption_by_tld AS
SELECT scan_id, tld,
       count(*) AS domains,
       count(*) FILTER (WHERE mx_count > 0) AS with_mx,
       count(*) FILTER (WHERE mx_dnssec = 'secure') AS signed,
       count(*) FILTER (WHERE any_tlsa) AS with_tlsa,
       count(*) FILTER (WHERE status = 'dane-valid') AS dane_valid,
       count(*) FILTER (WHERE status = 'dane-partial') AS dane_partial,
       count(*) FILTER (WHERE status IN ('dane-failed', 'dane-unreachable')) AS dane_failed_or_unreachable,
       round(100.0 * count(*) FILTER (WHERE any_tlsa) / nullif(count(*) FILTER (WHERE mx_count > 0), 0), 2)
         AS pct_with_tlsa_of_with_mx
  FROM domain_summary
 WHERE tld IS NOT NULL
 GROUP BY scan_id, tld;

-- TLSA parameters published (secure TLSA answers only).
CREATE VIEW tlsa_parameters AS
SELECT t.scan_id, t.usage, t.selector, t.matching_type,
       count(*) AS records,
       count(*) FILTER (WHERE t.usable) AS usable_records,
       count(DISTINCT t.host) AS hosts
  FROM tlsa_records t
  JOIN mx_hosts h ON h.scan_id = t.scan_id AND h.host = t.host
 WHERE h.tlsa_dnssec = 'secure'
 GROUP BY t.scan_id, t.usage, t.selector, t.matching_type;

-- Failures by cause: domain, MX host and probe level, with the recorded reason.
CREATE VIEW failures_by_cause AS
SELECT scan_id, 'domain'::text AS level, status::text AS status,
       CASE WHEN status = 'invalid-name' THEN invalid_reason
            WHEN status IN ('lookup-failed', 'dnssec-bogus')
            THEN coalesce(mx_failure, 'EDE ' || mx_ede_code || ': ' || mx_ede_text, mx_rcode)
       END AS cause,  -- for DANE failures the cause is on the host and probe levels
       count(*) AS count
  FROM domains
 WHERE status IN ('invalid-name', 'lookup-failed', 'dnssec-bogus', 'dane-failed', 'dane-unreachable',
                  'tlsa-unusable')
 GROUP BY 1, 2, 3, 4
UNION ALL
SELECT scan_id, 'mx_host', status::text,
       coalesce(tlsa_failure, 'EDE ' || tlsa_ede_code || ': ' || tlsa_ede_text, tlsa_rcode),
       count(*)
  FROM mx_hosts
 WHERE status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed', 'address-failed',
                  'no-address')
 GROUP BY 1, 2, 3, 4
UNION ALL
SELECT scan_id, 'probe', result::text, reason, count(*)
  FROM probes
 WHERE result <> 'authenticated'
 GROUP BY 1, 2, 3, 4;

-- MX providers, grouped by the last two labels of the MX host name (an
-- approximation: "mail.example.co.uk" groups under "co.uk").
CREATE VIEW mx_providers AS
SELECT m.scan_id,
       coalesce(substring(m.host FROM '([^.]+\.[^.]+)$'), m.host) AS provider,
       count(DISTINCT m.host) AS hosts,
       count(DISTINCT m.seq) AS domains,
       count(DISTINCT m.host) FILTER (WHERE h.status = 'dane-valid') AS dane_valid_hosts,
       count(DISTINCT m.host) FILTER (WHERE h.status IN ('dane-failed', 'tlsa-failed')) AS dane_failed_hosts,
       count(DISTINCT m.host) FILTER (WHERE h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0) AS hosts_with_tlsa,
       count(DISTINCT m.seq) FILTER (WHERE h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0) AS domains_with_tlsa
  FROM domain_mx m
  JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
 GROUP BY 1, 2;

-- Status changes of a domain between consecutive scans that have it.
CREATE VIEW domain_status_changes AS
SELECT domain, previous_scan_id, scan_id, previous_status, status, started_at
  FROM (SELECT d.domain, d.scan_id, s.started_at, d.status,
               lag(d.status) OVER w AS previous_status,
               lag(d.scan_id) OVER w AS previous_scan_id
          FROM domains d
          JOIN scans s ON s.id = d.scan_id
        WINDOW w AS (PARTITION BY d.domain ORDER BY s.started_at, d.scan_id)) changes
 WHERE previous_scan_id IS NOT NULL AND status IS DISTINCT FROM previous_status;

-- Status changes between two given scans (NULL: the domain is not in that scan).
CREATE FUNCTION domain_status_diff(old_scan text, new_scan text)
RETURNS TABLE (domain text, old_status domain_status, new_status domain_status)
LANGUAGE sql STABLE AS $$
  SELECT coalesce(o.domain, n.domain), o.status, n.status
    FROM (SELECT d.domain, d.status FROM domains d WHERE d.scan_id = old_scan) o
    FULL JOIN (SELECT d.domain, d.status FROM domains d WHERE d.scan_id = new_scan) n
      ON n.domain = o.domain
   WHERE o.status IS DISTINCT FROM n.status
$$;

-- Domains per status per scan.
CREATE VIEW scan_status_counts AS
SELECT scan_id, status, count(*) AS domains FROM domains GROUP BY scan_id, status;
