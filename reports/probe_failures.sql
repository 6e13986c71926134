-- Report table "probe_failures": per-address results other than
-- authenticated. "applies" keeps failures of DANE hosts (usable secure TLSA:
-- host status dane-valid, dane-failed, dane-unreachable) apart from results on
-- hosts where DANE does not apply ("not applicable": unauthenticated TLS or a
-- failed connection to a host without usable TLSA is not a DANE failure).
-- Example domains: the first three (alphabetically) served by such a host.
-- The rows come from danescan_probe_failures() (migration 009: the scan's
-- summary, computed once, or the same query on the raw rows; its text is
-- danescan_probe_failures_sql('ID')).
-- psql variables: scan_id.
SELECT result::text AS result, applies, addresses, hosts, domains, example_domains
  FROM danescan_probe_failures(:'scan_id')
 ORDER BY applies, addresses DESC, result;
