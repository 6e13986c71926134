#!/usr/bin/python3
"""The metrics of issue 17 on a fixture whose answers are known
(metrics_fixture.sql): provider attribution by the Public Suffix List
(mx1/mx2.example.co.uk one provider, a host named co.uk none, a row stored
before migration 010 falling back to its last two labels), the published
metrics (the survey's share with a domain whose primary MX host accepts no
connections, TLSA RRsets not validated, TLSA records matching no served
certificate, partial coverage), adoption and abandonment, the input-set
warning, failure episodes and time to fix per provider, and the research
views. Each reports/*.sql is run in psql as a researcher would and its rows
must equal the values worked out by hand below; then `danescan report` must
show the new sections. Ends with 'N passed, M failed'."""

import os
import re
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, SOURCE, PrivateDB, TempDir, check, run, run_test  # noqa: E402

REPORTS = os.path.join(SOURCE, "reports")
FIXTURE = os.path.join(SOURCE, "tests", "integration", "metrics_fixture.sql")


def table(db, name, scan_id, previous_id=""):
    header, rows = db.psql_file(os.path.join(REPORTS, name + ".sql"), scan_id=scan_id, previous_id=previous_id)
    return header, rows


def expect(db, name, scan_id, previous_id, want, columns=None):
    """reports/NAME.sql for the scans must give exactly `want` (rows of
    strings, None for NULL), restricted to `columns` when given."""
    header, rows = table(db, name, scan_id, previous_id)
    if columns is not None:
        idx = [header.index(c) for c in columns]
        rows = [[row[i] for i in idx] for row in rows]
    check(rows == want, f"{name} ({scan_id} vs {previous_id or 'none'}): {len(want)} rows as worked out",
          f"\n  got  {rows}\n  want {want}")


def main():
    with PrivateDB("danescan_test_metrics", schema=True, fixture=FIXTURE) as db, \
            TempDir("danescan-metrics-") as tmp:
        # --- Providers (m-4). Registrable domains: mx1 and mx2.example.co.uk
        # are one provider; the host "co.uk" has none (pub.test counts only
        # under example.co.uk); mail.legacy.co.uk has provider NULL (stored
        # before migration 010) and falls back to its last two labels.
        # dane-valid domains: example.co.uk ep, insec (of ep, ep3, unreach,
        # pub, insec: 5); quick.org fixq (of fixq, slowprim: 2); co.uk old;
        # implicit.test implicit. m-3's dane-valid: ep3 under example.co.uk.
        expect(db, "providers_dane", "m-4", "m-3", [
            ["example.co.uk", "2", "5", "40.0", "1"],
            ["quick.org", "1", "2", "50.0", "0"],
            ["co.uk", "1", "1", "100.0", "0"],
            ["implicit.test", "1", "1", "100.0", "0"]])
        rows = db.sql("SELECT provider FROM mx_providers WHERE scan_id = 'm-4' ORDER BY provider")
        check([r[0] for r in rows] == ["bogus.net", "co.uk", "down.net", "example.co.uk", "implicit.test",
                                       "other.net", "quick.org", "quit.net", "slow.net", "unsigned-tlsa.net"],
              "mx_providers: one provider for mx1/mx2.example.co.uk, none for the host co.uk, fallback for NULL",
              rows)
        # Broken DANE domains, by the provider of the failing host: ep3
        # (mx2.example.co.uk dane-failed), allunreach (mx.down.net
        # dane-unreachable), bog (mx.bogus.net tlsa-failed).
        expect(db, "providers_broken", "m-4", "m-3", [
            ["bogus.net", "1", "1", "0", None],
            ["down.net", "1", "1", "2", "50.0"],
            ["example.co.uk", "1", "1", "5", "20.0"]])

        # --- DNS operators (m-4, migration 017). DANE domains: ep fixq old
        # insec implicit (valid), pub unreach slowprim (partial), ep3 bog
        # (failed), allunreach (unreachable): 11. No NS data: pub unreach
        # old insec implicit slowprim (6, none broken). dnsb.co.uk: ep3,
        # fixq, allunreach (2 broken, 1 dane-failed); dnsa.net: ep, ep3 (ep2
        # is no-dane); '' (public suffix): bog. Ties on broken: more DANE
        # domains first.
        expect(db, "dns_operators_broken", "m-4", "m-3", [
            ["(no NS data)", "0", "0", "6", "0.0"],
            ["dnsb.co.uk", "2", "1", "3", "66.7"],
            ["dnsa.net", "1", "1", "2", "50.0"],
            ["(public suffix)", "1", "1", "1", "100.0"]])
        rows = db.sql("SELECT coalesce(operator, 'none'), domains, dane_domains, dane_valid_domains, broken_domains"
                      " FROM dns_operators WHERE scan_id = 'm-4' ORDER BY 1")
        check(rows == [["dnsa.net", "3", "2", "1", "1"], ["dnsb.co.uk", "3", "3", "1", "2"],
                       ["none", "1", "1", "0", "1"]],
              "dns_operators view: domains, DANE, valid and broken per operator ('' is NULL)", rows)

        # --- Published metrics (m-4, previous m-3).
        # Survey: secure MX RRset, explicit MX: ep ep2 fixq ep3 pub abandon
        # unreach old allunreach slowprim bog = 11 (insec: insecure MX;
        # implicit.test: implicit MX; uns: insecure; lf: lookup failed).
        # DANE-valid at every primary host that accepts connections: ep, fixq,
        # old; unreach (its other primary mx.down.net is dane-unreachable);
        # slowprim (its other primary mx.slow.net timed out on every
        # address) = 5. Not: pub (primary co.uk has no TLSA), allunreach (no
        # primary accepts connections), ep2, ep3, bog, abandon.
        # m-3: 8 domains, dane-valid ep3, abandon, lf = 3.
        # RRsets: TLSA found or bogus on mx1, mx2, quick, down, legacy,
        # implicit, bogus, unsigned-tlsa = 8; bogus or insecure: 2.
        # Records: 4 (mx1) + 1 (mx2) + 1 (quick) + 1 (legacy) = 7 of hosts that
        # served a certificate; no match: mx1's 3 0 1 of the issuer and its
        # other key, mx2's = 3.
        # Partial: TLSA on some host: ep ep3 fixq unreach pub old insec
        # implicit allunreach slowprim = 10; with a host without: pub, slowprim.
        header, rows = table(db, "published_metrics", "m-4", "m-3")
        cols = ["unit", "numerator", "denominator", "pct"]
        got = [[row[header.index(c)] for c in cols] for row in rows]
        check(got == [["domains", "5", "11", "45.5"], ["MX hosts", "2", "8", "25.0"],
                      ["TLSA records", "3", "7", "42.9"], ["domains", "2", "10", "20.0"]],
              "published_metrics: survey share, RRsets not validated, records not matching, partial coverage",
              got)
        prev = [rows[0][header.index(c)] for c in ("previous_numerator", "previous_denominator", "previous_pct")]
        check(prev == ["3", "8", "37.5"], "published_metrics: the survey share of the previous scan", prev)
        check(rows[0][header.index("source")].startswith("Dukhovni")
              and rows[1][header.index("source")].startswith("Lee et al."), "published_metrics: sources named")

        # --- Input set and adoption. m-4 vs m-3: 7 names in both, 8 added,
        # gone.test removed, same input files. m-2 vs m-1: the same 2 names.
        # m-4 vs m-alt: other input files, ep.test in both.
        expect(db, "input_change", "m-4", "m-3", [
            ["warning: the input set changed; comparisons cover the names in both scans only", "yes", "7", "8", "1"]])
        expect(db, "input_change", "m-2", "m-1", [["same names in both scans", "yes", "2", "0", "0"]])
        expect(db, "input_change", "m-4", "m-alt", [
            ["warning: the input set changed; comparisons cover the names in both scans only", "no", "1", "14", "1"]])
        expect(db, "input_change", "m-4", "", [])
        # Adopted: pub (no-dane, then TLSA on mx1). Abandoned: abandon
        # (dane-valid, then no-dane); lf (dane-valid, then lookup-failed) is
        # not. Newly dane-valid: ep, fixq. No longer: ep3, abandon, lf.
        expect(db, "dane_adoption", "m-4", "m-3", [
            ["names in both scans (compared)", "7", "100.0"],
            ["adopted: TLSA published", "1", "14.3"],
            ["abandoned: TLSA removed", "1", "14.3"],
            ["newly dane-valid", "2", "28.6"],
            ["no longer dane-valid", "3", "42.9"]])

        # --- Episodes (series m-1..m-4; m-alt has other inputs). ep2 failed
        # in m-1, no-dane in m-2 (left). ep failed in m-2 and m-3, fixed in
        # m-4: 21 days. fixq failed in m-3, fixed in m-4: 14 days. ep3,
        # allunreach, bog fail in m-4 (open). Median of 21 and 14: 17.5.
        expect(db, "time_to_fix", "m-4", "m-3", [
            ["all providers", "6", "2", "1", "3", "17.5", "0", "2", "0"],
            ["example.co.uk", "2", "1", "0", "1", "21.0", "0", "1", "0"],
            ["bogus.net", "1", "0", "0", "1", None, "0", "0", "0"],
            ["down.net", "1", "0", "0", "1", None, "0", "0", "0"],
            ["other.net", "1", "0", "1", "0", None, "0", "0", "0"],
            ["quick.org", "1", "1", "0", "0", "14.0", "0", "1", "0"]])
        # As of m-3, ep's and fixq's failures are still open.
        expect(db, "time_to_fix", "m-3", "", [
            ["all providers", "3", "0", "1", "2", None, "0", "0", "0"],
            ["example.co.uk", "1", "0", "0", "1", None, "0", "0", "0"],
            ["other.net", "1", "0", "1", "0", None, "0", "0", "0"],
            ["quick.org", "1", "0", "0", "1", None, "0", "0", "0"]])

        # --- Research views.
        rows = db.sql("SELECT domain, failed_scan_id, end_scan_id, end_status, end_kind, duration, providers"
                      " FROM domain_failure_episodes WHERE domain IN ('ep.test', 'ep2.test') ORDER BY domain")
        check(rows == [["ep.test", "m-2", "m-4", "dane-valid", "fixed", "21 days", "{example.co.uk}"],
                       ["ep2.test", "m-1", "m-2", "no-dane", "left", "7 days", "{other.net}"]],
              "domain_failure_episodes: ep.test failing in m-2, fixed in m-4 (21 days); ep2.test left", rows)
        # Migration 012 rewrote the views for scale: every row must equal the
        # definitions of migration 010 (run here as plain queries).
        m010 = open(os.path.join(SOURCE, "schema", "migrations", "010_provider_metrics.sql"), encoding="utf-8").read()
        for view in ("domain_failure_episodes", "domain_dane_seen", "scan_input_sets"):
            old_sql = re.search(r"CREATE VIEW " + view + r" AS\n(.*?);\n", m010, re.S).group(1)
            want = db.sql(f"SELECT * FROM ({old_sql}) v ORDER BY 1, 2, 3")
            got = db.sql(f"SELECT * FROM {view} ORDER BY 1, 2, 3")
            check(got == want and len(want) > 1, f"{view}: the same {len(want)} rows as migration 010's definition",
                  f"\n  got  {got}\n  want {want}")
        rows = db.sql("SELECT domain, scans, dane_valid_scans, first_dane_valid_scan, last_dane_valid_scan"
                      " FROM domain_dane_seen WHERE input_set = '[\"mm11\"]' AND domain = 'ep.test'")
        check(rows == [["ep.test", "4", "2", "m-1", "m-4"]], "domain_dane_seen: ep.test first m-1, last m-4", rows)
        rows = db.sql("SELECT danescan_host_provider('mail.legacy.co.uk', NULL),"
                      " coalesce(danescan_host_provider('co.uk', ''), 'none'),"
                      " danescan_host_provider('mx1.example.co.uk', 'example.co.uk')")
        check(rows == [["co.uk", "none", "example.co.uk"]],
              "danescan_host_provider: NULL falls back to the last two labels, '' is none", rows)

        # --- The report shows the new sections.
        out = os.path.join(tmp, "out")
        r = run(DANESCAN, "report", "--db", db.url, "--scan", "m-4", "--previous", "m-3", "--out", out, text=True)
        if check(r.returncode == 0, "report exits 0", r.stderr):
            page = open(os.path.join(out, "report.html"), encoding="utf-8").read()
            for name in ("input_change", "published_metrics", "dane_adoption", "time_to_fix", "providers_broken",
                         "dns_operators_broken"):
                check(f'id="s-{name}"' in page and os.path.exists(os.path.join(out, name + ".csv")),
                      f"report has the {name} section and CSV")
            check("warning: the input set changed" in page, "report shows the input-set warning")

        # Migration 019: the report's danescan_summarize_scan brought the
        # maintained history up to date; the views now read it, with the
        # same rows as migration 010's definitions.
        fresh = db.sql("SELECT danescan_domain_latest_top() IS NOT NULL,"
                       " (SELECT count(*) FROM danescan_history_fresh_sets('dane_seen'))"
                       " = (SELECT count(DISTINCT input_set) FROM scan_input_sets),"
                       " (SELECT count(*) FROM danescan_history_fresh_sets('episodes'))"
                       " = (SELECT count(DISTINCT input_set) FROM scan_input_sets)")
        check(fresh == [["t", "t", "t"]], "the report leaves the history fresh (latest, dane_seen, episodes)", fresh)
        # Migration 021: freshness does not depend on the reader's time zone
        # or date style (the keys spell timestamps as text).
        zones = db.sql("SET TimeZone = 'America/New_York'; SET DateStyle = 'German';"
                       " SELECT danescan_scan_summary_fresh('m-4'), danescan_pair_fresh('m-4', 'm-3'),"
                       " danescan_time_to_fix_fresh('m-4')")
        check(zones == [["t", "t", "t"]], "summaries stay fresh for a session in another time zone and date style",
              zones)
        for view in ("domain_failure_episodes", "domain_dane_seen"):
            old_sql = re.search(r"CREATE VIEW " + view + r" AS\n(.*?);\n", m010, re.S).group(1)
            want = db.sql(f"SELECT * FROM ({old_sql}) v ORDER BY 1, 2, 3")
            got = db.sql(f"SELECT * FROM {view} ORDER BY 1, 2, 3")
            check(got == want and len(want) > 1, f"{view} from the history: the same {len(want)} rows as migration 010's",
                  f"\n  got  {got}\n  want {want}")


if __name__ == "__main__":
    run_test(main, need_a_pass=True)
