#!/usr/bin/python3
"""Reports at scale (issue 17, migration 009), checked on small data: no
timings, only that the SQL works, gives the same answers with and without
the per-scan summaries, and that the plans use what makes it scale.

1. The fixture scans (report_fixture.sql): every reports/*.sql file and the
   summary-backed views give the same rows with the summaries absent (raw
   rows), after `danescan report` computed them, and as the read-only role;
   a resumed scan's summary is stale (not used) until recomputed; `danescan
   db drop` removes the scan's summaries.
2. bench/bench_report.sh --check-plans at a small N (two realistic synthetic
   scans through the real COPY sink): report, diff, every reports/ file and
   the researcher queries of schema/README.md run, and EXPLAIN shows that
   each reads only the two scans' partitions (literal scan ids prune) and
   that the per-host probe lookups use the probes (host) index.
3. bench/bench_history.sh at the same N: 3 scans, twice a scan appended and
   the oldest dropped (migration 022); the rows it leaves equal the rows
   computed from scratch.
Ends with 'N passed, M failed'."""

import os
import re
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
from harness import DANESCAN, REPORT_FIXTURE, SOURCE, PrivateDB, check, run, run_test  # noqa: E402

REPORTS = os.path.join(SOURCE, "reports")
BENCH_DOMAINS = os.environ.get("DANESCAN_BENCH_REPORT_DOMAINS", "5000")
PAIRS = [("fx-2", "fx-1"), ("fx-0", "")]
VIEWS = {
    "scan_funnel": "SELECT * FROM scan_funnel ORDER BY scan_id",
    "adoption_by_tld": "SELECT * FROM adoption_by_tld ORDER BY scan_id, tld",
    "scan_status_counts": "SELECT * FROM scan_status_counts ORDER BY scan_id, status",
    "mx_providers": "SELECT * FROM mx_providers ORDER BY scan_id, provider",
    "tlsa_parameters": "SELECT * FROM tlsa_parameters ORDER BY scan_id, usage, selector, matching_type",
    "failures_by_cause": "SELECT * FROM failures_by_cause ORDER BY scan_id, level, status, cause",
    "domain_status_diff": "SELECT * FROM domain_status_diff('fx-1', 'fx-2') ORDER BY domain",
    "domain_status_diff_0": "SELECT * FROM domain_status_diff('fx-0', 'fx-2') ORDER BY domain",
}
# The views' definitions before they were made to scale (migrations 010 and
# 002): the rows must stay the same (on raw rows and on summaries).
REFERENCE = {
    "tlsa_parameters": """
SELECT t.scan_id, t.usage, t.selector, t.matching_type,
       count(*) AS records,
       count(*) FILTER (WHERE t.usable) AS usable_records,
       count(DISTINCT t.host) AS hosts
  FROM tlsa_records t
  JOIN mx_hosts h ON h.scan_id = t.scan_id AND h.host = t.host
 WHERE h.tlsa_dnssec = 'secure'
 GROUP BY t.scan_id, t.usage, t.selector, t.matching_type
 ORDER BY 1, 2, 3, 4""",
    "failures_by_cause": """
SELECT * FROM (
SELECT scan_id, 'domain'::text AS level, status::text AS status,
       CASE WHEN status = 'invalid-name' THEN invalid_reason
            WHEN status IN ('lookup-failed', 'dnssec-bogus')
            THEN coalesce(mx_failure, 'EDE ' || mx_ede_code || ': ' || mx_ede_text, mx_rcode)
       END AS cause,
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
 GROUP BY 1, 2, 3, 4) f ORDER BY scan_id, level, status, cause""",
    "domain_status_diff": """
SELECT n.domain, o.status, n.status
  FROM domains n JOIN domains o ON o.domain = n.domain AND o.scan_id = 'fx-1'
 WHERE n.scan_id = 'fx-2' AND o.status IS DISTINCT FROM n.status ORDER BY 1""",
    "domain_status_diff_0": """
SELECT n.domain, o.status, n.status
  FROM domains n JOIN domains o ON o.domain = n.domain AND o.scan_id = 'fx-0'
 WHERE n.scan_id = 'fx-2' AND o.status IS DISTINCT FROM n.status ORDER BY 1""",
    "mx_providers": """
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
 GROUP BY 1, 2 ORDER BY 1, 2""",
}


# Migration 019: domain_latest, domain_dane_seen and domain_failure_episodes
# read maintained rows while fresh. Their definitions before (migrations 002
# and 012), the reference: every query below must give the same rows.
OLD_DOMAIN_LATEST = """
SELECT DISTINCT ON (d.domain)
       d.domain, d.status, d.scan_id, s.started_at AS scan_started_at, d.tld, d.mx_dnssec,
       d.mx_count, d.implicit_mx, d.invalid_reason, d.seq
  FROM domains d
  JOIN scans s ON s.id = d.scan_id
 ORDER BY d.domain, s.started_at DESC, d.scan_id DESC"""
OLD_DANE_SEEN = """
WITH sets AS MATERIALIZED (
  SELECT scan_id, started_at, input_set FROM scan_input_sets
), valid_domains AS (
  SELECT DISTINCT i.input_set, d.domain
    FROM domains d
    JOIN sets i ON i.scan_id = d.scan_id
   WHERE d.status = 'dane-valid'
)
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
  FROM valid_domains v
  JOIN domains d ON d.domain = v.domain
  JOIN sets i ON i.scan_id = d.scan_id AND i.input_set = v.input_set
 GROUP BY i.input_set, d.domain
UNION ALL
SELECT input_set, domain, scans, 0::bigint, NULL::text, NULL::timestamptz, NULL::text, NULL::timestamptz, latest_status
  FROM (SELECT i.input_set, d.domain, count(*) AS scans,
               count(*) FILTER (WHERE d.status = 'dane-valid') AS valid,
               (array_agg(d.status ORDER BY i.started_at DESC, d.scan_id DESC))[1] AS latest_status
          FROM domains d
          JOIN scan_input_sets i ON i.scan_id = d.scan_id
         GROUP BY i.input_set, d.domain) never
 WHERE valid = 0"""
OLD_EPISODES = """
WITH sets AS MATERIALIZED (
  SELECT scan_id, started_at, input_set FROM scan_input_sets
), failing_domains AS (
  SELECT DISTINCT i.input_set, d.domain
    FROM domains d
    JOIN sets i ON i.scan_id = d.scan_id
   WHERE d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')
), history AS (
  SELECT i.input_set, d.domain, d.scan_id, d.seq, i.started_at, d.status,
         d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable') AS failing
    FROM failing_domains f
    JOIN domains d ON d.domain = f.domain
    JOIN sets i ON i.scan_id = d.scan_id AND i.input_set = f.input_set
), marked AS (
  SELECT h.*,
         lag(h.failing) OVER w AS was_failing,
         (array_agg(h.scan_id) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_scan_id,
         (array_agg(h.started_at) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_started_at,
         (array_agg(h.status) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_status
    FROM history h
  WINDOW w AS (PARTITION BY h.input_set, h.domain ORDER BY h.started_at, h.scan_id),
         after AS (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
), episodes AS (
  SELECT m.input_set, m.domain, m.scan_id AS failed_scan_id, m.seq AS failed_seq, m.started_at AS failed_at,
         m.status AS failed_status, m.end_scan_id, m.end_started_at, m.end_status
    FROM marked m
   WHERE m.failing AND m.was_failing IS NOT TRUE
)
SELECT ep.input_set, ep.domain, ep.failed_scan_id, ep.failed_at, ep.failed_status,
       ep.end_scan_id, ep.end_started_at AS ended_at, ep.end_status,
       CASE WHEN ep.end_scan_id IS NULL THEN 'open'
            WHEN ep.end_status IN ('dane-valid', 'dane-partial') THEN 'fixed'
            ELSE 'left' END AS end_kind,
       ep.end_started_at - ep.failed_at AS duration,
       (SELECT array_agg(DISTINCT danescan_host_provider(h.host, h.provider) ORDER BY danescan_host_provider(h.host, h.provider))
          FROM domain_mx m
          JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
         WHERE m.scan_id = ep.failed_scan_id AND m.seq = ep.failed_seq
           AND h.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed')
           AND danescan_host_provider(h.host, h.provider) IS NOT NULL) AS providers
  FROM episodes ep"""
AA11 = "'[\"aa11\"]'"
# name: (query on the view, the same on the old definition); {v} is the view
HISTORY_QUERIES = {
    "domain_latest": ("domain_latest", OLD_DOMAIN_LATEST, "SELECT * FROM {v} ORDER BY domain"),
    "domain_latest by status": ("domain_latest", OLD_DOMAIN_LATEST,
                                "SELECT status, count(*) FROM {v} GROUP BY status ORDER BY 2 DESC, 1"),
    "domain_latest by domain": ("domain_latest", OLD_DOMAIN_LATEST,
                                "SELECT * FROM {v} WHERE domain IN ('a.lab', 'zz.lab', 'b.org') ORDER BY domain"),
    "domain_dane_seen": ("domain_dane_seen", OLD_DANE_SEEN, "SELECT * FROM {v} ORDER BY input_set, domain"),
    "domain_dane_seen documented": ("domain_dane_seen", OLD_DANE_SEEN,
                                    "SELECT domain, first_dane_valid_scan, last_dane_valid_scan, latest_status FROM {v}"
                                    f" WHERE input_set = {AA11} AND dane_valid_scans > 0 ORDER BY domain"),
    "domain_failure_episodes": ("domain_failure_episodes", OLD_EPISODES,
                                "SELECT * FROM {v} ORDER BY input_set, domain, failed_at"),
    "domain_failure_episodes documented": ("domain_failure_episodes", OLD_EPISODES,
                                           "SELECT end_kind, count(*), percentile_cont(0.5) WITHIN GROUP"
                                           f" (ORDER BY duration) FROM {{v}} WHERE input_set = {AA11}"
                                           " GROUP BY end_kind ORDER BY end_kind"),
}


def history_same(db, when, url=None):
    for name, (view, old, sql) in HISTORY_QUERIES.items():
        got = db.sql(sql.format(v=view), url=url)
        want = db.sql(sql.format(v=f"({old}) old"))
        check(got == want and len(want) > 0, f"{name}: the same rows as its old definition {when}",
              f"\n  got  {got}\n  want {want}")


def history_fresh(db):
    """(latest fresh, every input set fresh for dane_seen, for episodes)."""
    r = db.sql("SELECT danescan_domain_latest_top() IS NOT NULL,"
               " (SELECT count(*) FROM danescan_history_fresh_sets('dane_seen')),"
               " (SELECT count(*) FROM danescan_history_fresh_sets('episodes')),"
               " (SELECT count(DISTINCT input_set) FROM scan_input_sets)")[0]
    return (r[0] == "t", r[1] == r[3], r[2] == r[3])


def history_state(db):
    return {(r[0], r[1]): r[2] for r in db.sql("SELECT kind, input_set, incremental FROM domain_history_state")}


ADD_SCAN = """
SELECT danescan_create_scan_partitions('{id}');
INSERT INTO scans (id, started_at, ended_at, complete, software, command_line, inputs, domains)
VALUES ('{id}', '{start}', {end}, {complete}, 'danescan 0.1.0', '{{scan}}', '[{{"name": "a.txt", "sha256": "aa11"}}]', 0);
"""


def add_rows(db, scan, batch, rows):
    """Stores rows (seq, domain, status) in a scan as a writer would: the
    domains rows and a scan_batches row in one transaction."""
    values = ", ".join(f"('{scan}', {seq}, '{d}', 'lab', '{st}', 'secure', 1)" for seq, d, st in rows)
    db.sql(f"BEGIN; INSERT INTO domains (scan_id, seq, domain, tld, status, mx_dnssec, mx_count) VALUES {values};"
           f" INSERT INTO scan_batches (scan_id, batch_no, seqs, domain_rows)"
           f" VALUES ('{scan}', {batch}, '{{[1,1000)}}', {len(rows)});"
           f" UPDATE scans SET domains = domains + {len(rows)} WHERE id = '{scan}'; COMMIT")


def history_checks():
    """The three views equal their old definitions in every state: raw rows
    (no history yet), fresh after danescan_summarize_scan, a scan appended,
    a scan started before the others, a dropped scan, a scan still being
    written (incomplete) and resumed, the newest scan dropped. After every
    summarize the history must be fresh (read by the views, not the raw
    rows): a stale history fails here."""
    with PrivateDB("danescan_test_report_history", schema=True, fixture=REPORT_FIXTURE) as db:
        check(history_fresh(db) == (False, False, False), "no history before the first summary")
        history_same(db, "(raw rows)")
        db.sql("SELECT danescan_summarize_scan(id) FROM scans")
        check(history_fresh(db) == (True, True, True), "danescan_summarize_scan brings the history up to date")
        history_same(db, "(history)")
        check(db.sql("SELECT count(*) FROM domain_latest_carry WHERE domain = 'zz.lab'")[0][0] == "1",
              "the carry rows hold the domain the newest scan lacks")
        # The views read the maintained rows while fresh: a changed row shows.
        db.sql("UPDATE domain_latest_carry SET status = 'insecure' WHERE domain = 'zz.lab';"
               " UPDATE domain_dane_seen_rows SET scans = scans + 100;"
               " UPDATE domain_failure_episode_rows SET end_kind = 'tampered'")
        check(db.sql("SELECT status FROM domain_latest WHERE domain = 'zz.lab'") == [["insecure"]]
              and int(db.sql("SELECT min(scans) FROM domain_dane_seen WHERE dane_valid_scans > 0")[0][0]) >= 100
              and db.sql("SELECT DISTINCT end_kind FROM domain_failure_episodes") == [["tampered"]],
              "the views read the maintained rows while fresh")
        db.sql("DELETE FROM domain_history_state")
        history_same(db, "(state forgotten: raw rows)")
        db.sql("SELECT danescan_summarize_scan('fx-2')")
        check(history_fresh(db) == (True, True, True), "a fresh scan's summarize recomputes a forgotten history")
        history_same(db, "(recomputed)")

        # A scan appended: fx-3 after fx-2 in the input set; a.lab absent
        # (its latest row stays fx-2's), b.org fixed, c.net failing again,
        # k.lab failing for the first time, a new dane-valid name.
        db.sql(ADD_SCAN.format(id="fx-3", start="2024-04-01T00:00:00Z", end="'2024-04-01T01:00:00Z'", complete="true"))
        add_rows(db, "fx-3", 1, [(2, "b.org", "dane-valid"), (3, "c.net", "dane-unreachable"),
                                 (4, "d.lab", "insecure"), (9, "i.lab", "no-dane"), (11, "k.lab", "dane-failed"),
                                 (12, "l.lab", "dane-valid")])
        check(history_fresh(db) == (False, False, False), "a new scan makes the history stale")
        history_same(db, "(a scan appended, stale)")
        db.sql("SELECT danescan_summarize_scan('fx-3')")
        state = history_state(db)
        check(history_fresh(db) == (True, True, True) and state[("latest", "")] == "t"
              and state[("dane_seen", '["aa11"]')] == "t" and state[("episodes", '["aa11"]')] == "t",
              "an appended scan updates the history incrementally", f"{state}")
        history_same(db, "(a scan appended)")

        # A scan started before every other one (its rows are older).
        db.sql(ADD_SCAN.format(id="fx-early", start="2023-12-01T00:00:00Z", end="'2023-12-01T01:00:00Z'",
                               complete="true"))
        add_rows(db, "fx-early", 1, [(1, "a.lab", "dane-failed"), (2, "old.lab", "dane-valid"),
                                     (3, "c.net", "dane-valid"), (4, "k.lab", "dane-valid")])
        history_same(db, "(a scan started earlier, stale)")
        db.sql("SELECT danescan_summarize_scan('fx-early')")
        check(history_fresh(db) == (True, True, True) and history_state(db)[("latest", "")] == "f",
              "a scan started earlier: the history is recomputed")
        history_same(db, "(a scan started earlier)")

        # A dropped scan (not the newest).
        r = run(DANESCAN, "db", "drop", "fx-1", "--db", db.url, text=True)
        check(r.returncode == 0, "db drop fx-1", r.stderr)
        check(history_fresh(db) == (False, False, False), "a dropped scan makes the history stale")
        history_same(db, "(a scan dropped, stale)")
        db.sql("SELECT danescan_summarize_scan('fx-2')")
        check(history_fresh(db) == (True, True, True) and history_state(db)[("latest", "")] == "t",
              "after a drop the latest rows are repaired incrementally")
        history_same(db, "(a scan dropped)")

        # An incomplete scan still being written, then resumed.
        db.sql(ADD_SCAN.format(id="fx-4", start="2024-05-01T00:00:00Z", end="NULL", complete="false"))
        add_rows(db, "fx-4", 1, [(1, "c.net", "dane-valid"), (2, "k.lab", "dane-failed")])
        db.sql("SELECT danescan_summarize_scan('fx-4')")
        check(history_fresh(db) == (True, True, True), "an incomplete scan's summary brings the history up to date")
        history_same(db, "(an incomplete scan)")
        add_rows(db, "fx-4", 2, [(3, "zz.lab", "no-dane"), (4, "b.org", "dane-failed"), (5, "old.lab", "insecure")])
        check(history_fresh(db) == (False, False, False), "rows added to a scan make the history stale")
        history_same(db, "(rows added to the newest scan, stale)")
        db.sql("UPDATE scans SET runs = runs + 1 WHERE id = 'fx-4'")
        add_rows(db, "fx-4", 3, [(6, "a.lab", "dane-valid"), (7, "l.lab", "dane-unreachable")])
        db.sql("SELECT danescan_summarize_scan('fx-4')")
        check(history_fresh(db) == (True, True, True) and history_state(db)[("latest", "")] == "t",
              "a resumed newest scan: the latest rows are updated incrementally")
        history_same(db, "(a resumed scan)")
        reader = db.url.replace("user=postgres", "user=danescan_reader") if "user=" in db.url \
            else db.url + "&user=danescan_reader"
        history_same(db, "(as the read-only role)", url=reader)

        # The newest scan dropped.
        r = run(DANESCAN, "db", "drop", "fx-4", "--db", db.url, text=True)
        check(r.returncode == 0, "db drop fx-4", r.stderr)
        history_same(db, "(the newest scan dropped, stale)")
        db.sql("SELECT danescan_summarize_scan('fx-3')")
        check(history_fresh(db) == (True, True, True), "after the newest scan's drop the history is recomputed")
        history_same(db, "(the newest scan dropped)")

        # A rolling window (migration 022): two scans appended in one
        # summarize (p.lab, dane-valid for the first time in the first of
        # them and seen in the second, counts 2 scans, not 3), then the
        # oldest dropped four times in a row. The set is fx-early, fx-0,
        # fx-2, fx-3, fx-5, fx-6. Dropping fx-early ends a.lab's episode
        # (its next row, fx-0, is not failing; it fails again in fx-5, an
        # episode of its own), old.lab's dane_seen row (only
        # dane-valid there) and moves c.net's and k.lab's first dane-valid
        # scan past fx-0, where they are absent; fx-0 moves b.org's past
        # fx-2 (dane-failed); fx-2 ends b.org's episode (fixed in fx-3); fx-3
        # moves c.net's episode to fx-5 (still failing, another status, a
        # new duration), k.lab's past fx-5 (absent) to fx-6, and ends m.lab's
        # (never seen again).
        add_rows(db, "fx-3", 2, [(20, "m.lab", "dane-unreachable")])
        db.sql("SELECT danescan_summarize_scan('fx-3')")  # fx-3 changed: recomputed
        db.sql(ADD_SCAN.format(id="fx-5", start="2024-06-01T00:00:00Z", end="'2024-06-01T01:00:00Z'", complete="true"))
        add_rows(db, "fx-5", 1, [(1, "a.lab", "dane-failed"), (2, "b.org", "dane-valid"), (3, "c.net", "dane-failed"),
                                 (4, "n.lab", "tlsa-unusable"), (5, "p.lab", "dane-valid")])
        db.sql(ADD_SCAN.format(id="fx-6", start="2024-07-01T00:00:00Z", end="'2024-07-01T01:00:00Z'", complete="true"))
        add_rows(db, "fx-6", 1, [(1, "c.net", "dane-valid"), (2, "k.lab", "dane-failed"), (3, "n.lab", "dane-failed"),
                                 (4, "a.lab", "no-dane"), (5, "p.lab", "no-dane")])
        db.sql("SELECT danescan_summarize_scan('fx-6')")
        state = history_state(db)
        check(history_fresh(db) == (True, True, True) and state[("dane_seen", AA11.strip("'"))] == "t"
              and state[("episodes", AA11.strip("'"))] == "t",
              "fx-5 and fx-6 appended in one summarize: incremental, fresh", f"{state}")
        history_same(db, "(fx-5 and fx-6 appended in one summarize)")
        for gone in ("fx-early", "fx-0", "fx-2", "fx-3"):
            r = run(DANESCAN, "db", "drop", gone, "--db", db.url, text=True)
            check(r.returncode == 0, f"db drop {gone} (the oldest)", r.stderr)
            check(history_fresh(db) == (False, False, False), f"dropping the oldest scan {gone}: stale")
            history_same(db, f"(the oldest scan {gone} dropped, stale)")
            db.sql("SELECT danescan_summarize_scan('fx-6')")
            state = history_state(db)
            check(history_fresh(db) == (True, True, True) and state[("latest", "")] == "t"
                  and state[("dane_seen", AA11.strip("'"))] == "t" and state[("episodes", AA11.strip("'"))] == "t",
                  f"after dropping the oldest scan {gone} the next summarize updates the history incrementally",
                  f"{state}")
            history_same(db, f"(the oldest scan {gone} dropped)")
        left = db.sql(f"SELECT scan_ids FROM domain_history_state WHERE kind = 'episodes' AND input_set = {AA11}")
        check(left == [["{fx-5,fx-6}"]], "the episodes state names the two scans left", str(left))


def all_outputs(db, url=None):
    """Every report file for every scan pair, and the views, as one dict."""
    out = {}
    for name in sorted(f[:-4] for f in os.listdir(REPORTS) if f.endswith(".sql")):
        for scan, previous in PAIRS:
            if name.startswith("diff_"):
                variables = {"from_scan": previous or "fx-0", "to_scan": scan}
            else:
                variables = {"scan_id": scan, "previous_id": previous}
            out[(name, scan, previous)] = db.psql_file(os.path.join(REPORTS, name + ".sql"), **variables)
    for view, sql in VIEWS.items():
        out[(view,)] = db.sql(sql, url=url)
    return out


def summarised(db):
    return {r[0] for r in db.sql("SELECT scan_id FROM scan_summaries")}


def fixture_checks():
    with PrivateDB("danescan_test_report_scale", schema=True, fixture=REPORT_FIXTURE) as db:
        check(summarised(db) == set(), "the fixture starts without summaries")
        raw = all_outputs(db)
        for view, sql in REFERENCE.items():
            want = db.sql(sql)
            check(raw[(view,)] == want and len(want) > 0, f"{view}: the same rows as its old definition (raw rows)",
                  f"\n  got  {raw[(view,)]}\n  want {want}")
        with tempfile.TemporaryDirectory(prefix="danescan-report-scale.") as out:
            r = run(DANESCAN, "report", "--db", db.url, "--scan", "fx-2", "--previous", "fx-1", "--out", out, text=True)
            check(r.returncode == 0 and "summaries not stored" not in r.stderr, "report exits 0 and stores summaries",
                  r.stderr[-400:])
        # fx-2, its previous fx-1 and the scans of the same input trend.sql lists.
        got = summarised(db)
        check({"fx-2", "fx-1"} <= got and "fx-other" not in got,
              "report summarised the scan, the previous scan and the trend's scans (not others)", f"{got}")
        db.sql("SELECT danescan_summarize_scan(id) FROM scans")
        check(summarised(db) == {"fx-0", "fx-1", "fx-2", "fx-other"}, "danescan_summarize_scan fills every scan")
        with_summaries = all_outputs(db)
        diffs = [k for k in raw if raw[k] != with_summaries[k]]
        check(not diffs, f"{len(raw)} report files/views: same rows with and without summaries", f"{diffs[:5]}")
        check(db.sql("SELECT count(*) FROM scan_mx_providers")[0][0] != "0", "the summaries hold the provider rows")
        for view, sql in REFERENCE.items():
            check(with_summaries[(view,)] == raw[(view,)], f"{view}: the same rows from the summaries")
        # Migration 018: the report stored the pair (fx-2, fx-1) and every
        # scan's time_to_fix; the summaries hold rows that the files read.
        pairs = db.sql("SELECT scan_id, previous_id, names_in_both FROM scan_pairs ORDER BY 1, 2")
        check(["fx-2", "fx-1", "10"] in pairs, "the pair summary of the report's scans is stored", f"{pairs}")
        changes = db.sql("SELECT count(*) FROM scan_pair_changes WHERE scan_id = 'fx-2' AND previous_id = 'fx-1'")
        check(changes[0][0] != "0" and db.sql("SELECT count(*) FROM scan_pair_host_changes")[0][0] != "0",
              "the pair summary holds the changed domains and hosts", f"{changes}")
        check(db.sql("SELECT count(*) FROM scan_time_to_fix WHERE scan_id = 'fx-2'")[0][0] != "0"
              and db.sql("SELECT count(*) FROM scan_published_metrics WHERE scan_id = 'fx-2'")[0][0] != "0"
              and db.sql("SELECT count(*) FROM scan_failures_by_cause WHERE scan_id = 'fx-2'")[0][0] != "0",
              "time_to_fix, published metrics and failures by cause are summarised")
        # They are read while fresh: a changed summary row shows ...
        pf = ("status_changes", "fx-2", "fx-1")
        db.sql("UPDATE scan_pair_changes SET domain = 'tampered.' || domain WHERE scan_id = 'fx-2'")
        tampered = db.psql_file(os.path.join(REPORTS, "status_changes.sql"), scan_id="fx-2", previous_id="fx-1")
        check(tampered != raw[pf] and "tampered." in str(tampered), "status_changes reads the fresh pair summary")
        db.sql("UPDATE scan_time_to_fix SET episodes = episodes + 1000 WHERE scan_id = 'fx-2'")
        tampered = db.psql_file(os.path.join(REPORTS, "time_to_fix.sql"), scan_id="fx-2", previous_id="fx-1")
        check(tampered != raw[("time_to_fix", "fx-2", "fx-1")], "time_to_fix reads the fresh summary")
        db.sql("UPDATE scan_published_metrics SET numerator = numerator + 1000 WHERE scan_id = 'fx-2'")
        tampered = db.psql_file(os.path.join(REPORTS, "published_metrics.sql"), scan_id="fx-2", previous_id="fx-1")
        check(tampered != raw[("published_metrics", "fx-2", "fx-1")], "published_metrics reads the fresh summary")
        # ... and not when a scan of the pair, or of the series, changed:
        # fx-0 is in fx-2's series, not in the pair.
        db.sql("UPDATE scans SET runs = runs + 1 WHERE id = 'fx-0'")
        check(db.sql("SELECT danescan_time_to_fix_fresh('fx-2'), danescan_pair_fresh('fx-2', 'fx-1')")[0] == ["f", "t"],
              "a resumed scan of the series makes time_to_fix stale, not the pair")
        check(db.psql_file(os.path.join(REPORTS, "time_to_fix.sql"), scan_id="fx-2", previous_id="fx-1")
              == raw[("time_to_fix", "fx-2", "fx-1")], "a stale time_to_fix summary is not used")
        db.sql("UPDATE scans SET runs = runs + 1 WHERE id = 'fx-1'")
        check(db.psql_file(os.path.join(REPORTS, "status_changes.sql"), scan_id="fx-2", previous_id="fx-1") == raw[pf],
              "a stale pair summary is not used")
        check(db.sql("SELECT danescan_summarize_scan('fx-2')")[0][0] == "t"
              and db.sql("SELECT danescan_time_to_fix_fresh('fx-2')")[0][0] == "t",
              "danescan_summarize_scan recomputes a stale time_to_fix of a fresh scan")
        check(db.sql("SELECT danescan_summarize_pair('fx-2', 'fx-1')")[0][0] == "t"
              and db.psql_file(os.path.join(REPORTS, "status_changes.sql"), scan_id="fx-2", previous_id="fx-1")
              == raw[pf], "the pair recomputed: fresh and right")
        db.sql("UPDATE scans SET runs = runs - 1 WHERE id IN ('fx-0', 'fx-1')")
        # Migration 020: the summariser ANALYZEs the scan's partitions it reads
        # first (at completion autovacuum has not yet: plans without
        # statistics were what made 3M-domain summaries take 21 minutes).
        # analyze_count counts ANALYZE commands only, not autovacuum's.
        analyzed = ("SELECT string_agg(t || '=' || coalesce(s.analyze_count, -1), ' ' ORDER BY t) "
                    "FROM unnest(ARRAY['domains', 'domain_mx', 'mx_hosts', 'probes', 'tlsa_records', 'probe_chain']) t "
                    "LEFT JOIN pg_stat_user_tables s ON s.relname = danescan_partition_name(t, 'fx-2')")
        before = db.sql(analyzed)[0][0]
        db.sql("SELECT danescan_summarize_scan(id, true) FROM scans")
        after = db.sql(analyzed)[0][0]
        want = " ".join(f"{t}={int(n) + 1}" for t, n in (x.split("=") for x in before.split(" ")))
        check("-1" not in before and after == want, "danescan_summarize_scan analyzes the scan's partitions",
              f"before {before}, after {after}")
        db.sql("SELECT danescan_summarize_pair('fx-2', 'fx-1', true)")

        # The read-only role computes a missing summary through `danescan report`.
        reader = db.url + "&user=danescan_reader" if "user=" not in db.url else \
            db.url.replace("user=postgres", "user=danescan_reader")
        db.sql("DELETE FROM scan_summaries WHERE scan_id = 'fx-2'")
        with tempfile.TemporaryDirectory(prefix="danescan-report-scale.") as out:
            r = run(DANESCAN, "report", "--db", reader, "--scan", "fx-2", "--out", out, text=True)
            check(r.returncode == 0 and "fx-2" in summarised(db), "the read-only role's report stores the summary",
                  r.stderr[-400:])
        check(all_outputs(db, url=reader)[("scan_funnel",)] == raw[("scan_funnel",)],
              "the read-only role reads the same views")

        # Stale: a resumed scan (runs + 1) is computed from the raw rows again.
        # (While fresh, mx_providers reads the summary: a changed summary row shows.)
        db.sql("UPDATE scan_mx_providers SET domains = domains + 1000 WHERE scan_id = 'fx-2'")
        tampered = db.sql(VIEWS["mx_providers"])
        check(tampered != raw[("mx_providers",)], "mx_providers reads the fresh summary")
        fresh = db.sql("SELECT danescan_scan_summary_fresh('fx-2')")[0][0]
        db.sql("UPDATE scans SET runs = runs + 1 WHERE id = 'fx-2'")
        stale = db.sql("SELECT danescan_scan_summary_fresh('fx-2')")[0][0]
        check(fresh == "t" and stale == "f", "a resumed scan's summary is stale", f"{fresh} {stale}")
        db.sql("UPDATE scan_domain_counts SET domains = domains + 1000 WHERE scan_id = 'fx-2'")
        header, rows = db.psql_file(os.path.join(REPORTS, "headline.sql"), scan_id="fx-2", previous_id="fx-1")
        check((header, rows) == raw[("headline", "fx-2", "fx-1")], "a stale summary is not used (raw rows instead)")
        check(db.sql(VIEWS["mx_providers"]) == raw[("mx_providers",)], "a stale provider summary is not used")
        db.sql("SELECT danescan_summarize_scan('fx-2')")
        check(db.sql("SELECT danescan_scan_summary_fresh('fx-2')")[0][0] == "t"
              and db.psql_file(os.path.join(REPORTS, "headline.sql"), scan_id="fx-2", previous_id="fx-1")
              == raw[("headline", "fx-2", "fx-1")], "recomputed after the resume: fresh and right")

        # Drop: the scan's summaries go with it.
        r = run(DANESCAN, "db", "drop", "fx-0", "--db", db.url, text=True)
        left = db.sql("SELECT (SELECT count(*) FROM scan_summaries WHERE scan_id = 'fx-0')"
                      " + (SELECT count(*) FROM scan_domain_counts WHERE scan_id = 'fx-0')"
                      " + (SELECT count(*) FROM scan_provider_counts WHERE scan_id = 'fx-0')"
                      " + (SELECT count(*) FROM scan_probe_failures WHERE scan_id = 'fx-0')"
                      " + (SELECT count(*) FROM scan_mx_providers WHERE scan_id = 'fx-0')"
                      " + (SELECT count(*) FROM scan_published_metrics WHERE scan_id = 'fx-0')"
                      " + (SELECT count(*) FROM scan_time_to_fix WHERE scan_id = 'fx-0')"
                      " + (SELECT count(*) FROM scan_pairs WHERE 'fx-0' IN (scan_id, previous_id))"
                      " + (SELECT count(*) FROM pg_class WHERE relname ~ '_fx_0_')")[0][0]
        check(r.returncode == 0 and left == "0", "db drop removes the scan's summaries", f"{r.stderr} {left}")


def partition_checks():
    """Migration 018: a new scan's partitions are attached, so a reader of
    the parents that holds its lock for long (a summary of a big scan) does
    not hold up the next scan's start, and the parents' readers do not queue
    behind it."""
    with PrivateDB("danescan_test_report_scale_locks", schema=True, fixture=REPORT_FIXTURE) as db:
        reader = subprocess.Popen(["psql", "-X", "-q", db.url], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, text=True)
        try:
            reader.stdin.write("BEGIN;\nSELECT count(*) FROM domains;\nSELECT count(*) FROM scan_mx_providers;\n")
            reader.stdin.flush()
            held = False
            for _ in range(100):
                held = db.sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                              " WHERE c.relname = 'scan_mx_providers' AND l.granted AND l.pid <> pg_backend_pid()"
                              )[0][0] != "0"
                if held:
                    break
                time.sleep(0.1)
            check(held, "a reader holds the parents' lock in an open transaction")
            r = run("psql", "-X", "-v", "ON_ERROR_STOP=1", db.url, "-c", "SET lock_timeout = '5s'",
                    "-c", "SELECT danescan_create_scan_partitions('fx-new')", text=True)
            check(r.returncode == 0, "a scan's partitions are created while a reader holds the parents", r.stderr)
            parts = db.sql("SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                           " WHERE c.relname ~ '_fx_new_' AND c.relkind = 'r'")[0][0]
            want = db.sql("SELECT cardinality(danescan_scan_tables() || danescan_summary_tables())")[0][0]
            check(parts == want, "every per-scan table and the provider summary got an attached partition",
                  f"{parts} of {want}")
        finally:
            reader.stdin.close()
            reader.wait(timeout=30)


def bench_checks():
    env = dict(os.environ, DANESCAN=DANESCAN, BENCH_DB=f"danescan_test_bench_report_{os.getpid()}")
    r = run(os.path.join(SOURCE, "bench", "bench_report.sh"), "--check-plans", BENCH_DOMAINS, env=env, text=True,
            timeout=600)
    out = r.stdout
    check(r.returncode == 0, f"bench_report.sh --check-plans {BENCH_DOMAINS} exits 0",
          (r.stderr + out)[-1500:])
    for name in sorted(f[:-4] for f in os.listdir(REPORTS) if f.endswith(".sql")):
        check(f"  {name} " in out, f"bench ran reports/{name}.sql")
    check("report --previous (summaries fresh)" in out and "  diff: " in out, "bench ran report and diff")
    check("bytes/domain" in out and "db drop bench-old" in out, "bench printed sizes and the drop")
    # The plans: the scan's partitions by name, the host indexes where they matter.
    plans = out[out.find("== plans"):]
    check("probes_bench_new_" in plans and "domains_bench_old_" in plans, "EXPLAIN names the scans' partitions")
    check(re.search(r"(Index Scan using|Bitmap Index Scan on) probes_bench_new_\w+_host_idx", plans) is not None,
          "EXPLAIN shows the probes (host) index in use")
    check("PLAN " not in out, "no plan reads another scan's partitions or a whole probes partition per host")


def history_bench_checks():
    """bench/bench_history.sh at a small N: a rolling window of realistic
    synthetic scans (migration 022), whose rows after the rotations must
    equal the rows computed from scratch (the bench compares them)."""
    env = dict(os.environ, DANESCAN=DANESCAN, BENCH_DB=f"danescan_test_bench_history_{os.getpid()}")
    r = run(os.path.join(SOURCE, "bench", "bench_history.sh"), "--scans", "3", "--rotations", "2", BENCH_DOMAINS,
            env=env, text=True, timeout=600)
    out = r.stdout
    check(r.returncode == 0, f"bench_history.sh --scans 3 --rotations 2 {BENCH_DOMAINS} exits 0",
          (r.stderr + out)[-1500:])
    after_drop = re.findall(r"the next danescan_summarize_history\(\).*history: (.*)", out)
    check(len(after_drop) == 2 and all("dane_seen" in h and "full" not in h for h in after_drop),
          "after each drop of the oldest scan the whole history was updated incrementally", out[-1500:])
    m = re.search(r"dane_seen (\d+) rows, 0 differ; episodes (\d+) rows, 0 differ", out)
    check(m is not None and int(m.group(1)) > 0 and int(m.group(2)) > 0,
          "the rolling window's rows equal the rows from scratch" + (f" ({m.group(1)} dane_seen, {m.group(2)} episodes)"
                                                                    if m else ""), out[-1500:])


def main():
    fixture_checks()
    history_checks()
    partition_checks()
    bench_checks()
    history_bench_checks()


run_test(main, need_a_pass=True)
