#!/usr/bin/python3
"""`danescan report` on the fixture scans (report_fixture.sql): every table on
the page must equal the result of its reports/<table>.sql run in psql (raw
value in data-v and the formatted text), the CSVs must hold the same rows,
the Markdown the same cells, each chart must have one bar/point per row with
the row's value, no number may appear outside the tables and charts, the
status-change list must be capped with its count, and the page must open in
headless Chromium (run in an empty network namespace) without errors and
without any request for a resource. Ends with 'N passed, M failed'."""

import csv
import glob
import html.parser
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, REPORT_FIXTURE, SOURCE, PrivateDB, TempDir, check, run, run_test  # noqa: E402

REPORTS = os.path.join(SOURCE, "reports")

CHARTS = {"funnel": ("bars", "stage", "domains"), "domain_statuses": ("bars", "status", "domains"),
          "tld_adoption": ("bars", "tld", "pct_dane_valid_of_mail"),
          "trend": ("line", "started", "pct_dane_valid_of_mail"), "rollover": ("bars", "rollover", "hosts"),
          "providers_dane": ("bars", "provider", "dane_valid_domains"),
          "tls_versions": ("bars", "tls_version", "addresses"),
          "providers_broken": ("bars", "provider", "broken_domains")}
MAX_CHANGES = 2


def fmt(raw, column):
    """The reading format, written independently of the C code."""
    if raw is None:
        return "–"
    sign = ""
    if raw.startswith("-"):
        sign, raw = "-", raw[1:]
    elif column == "change" and raw != "0":
        sign = "+"
    whole, _, frac = raw.partition(".")
    text = sign + f"{int(whole):,}" + ("." + frac if frac else "")
    if column.startswith("pct") or column.endswith("_pct"):
        text += " %"
    return text


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables = {}      # name -> list of rows of (data-v, text, is_num)
        self.charts = {}      # name -> list of (kind, data-label, data-v)
        self.caps = {}        # table name -> (shown, total)
        self.loose_text = []  # text outside tables, charts, notes and h1
        self.tags = []
        self.stack = []       # (tag, context)
        self.table = self.chart = self.section = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        ctx = None
        if tag == "section":
            self.section = a.get("id", "")[2:]
        if tag == "table":
            self.table = a["id"][2:]
            self.tables[self.table] = []
            ctx = "table"
        elif tag == "svg":
            self.chart = a["id"][6:]
            self.charts[self.chart] = []
            ctx = "svg"
        elif tag == "tr" and self.table:
            self.tables[self.table].append([])
        elif tag == "td" and self.table:
            self.cell = [a.get("data-v"), "", "num" in a.get("class", "")]
        elif tag in ("rect", "circle") and self.chart:
            self.charts[self.chart].append((a.get("class"), a.get("data-label"), a.get("data-v")))
        elif tag == "p" and "cap" in a.get("class", ""):
            self.caps[self.section] = (int(a["data-shown"]), int(a["data-total"]))
        if tag == "p" and ("note" in a.get("class", "") or "src" in a.get("class", "")):
            ctx = "note"
        if tag in ("h1", "title", "style"):
            ctx = "exempt"
        self.stack.append((tag, ctx))

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None and self.table:
            self.tables[self.table][-1].append(tuple(self.cell))
            self.cell = None
        if tag == "table":
            self.table = None
        if tag == "svg":
            self.chart = None
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[1] += data
        if not any(ctx for _, ctx in self.stack):
            self.loose_text.append(data)


def check_report_table(page, markdown, out, name, header, rows, expected):
    """One reports/NAME.sql table against the rendered report in `out`: the
    page shows `expected` (the psql rows, or their first N when capped) with
    every number formatted from its raw value, NAME.csv holds all `rows`, the
    Markdown has the same cells, and a chart has one mark per row."""
    shown = [row for row in page.tables.get(name, []) if row]
    values_ok = len(shown) == len(expected) and all(
        len(srow) == len(erow) and all(
            cell[0] == raw and (cell[1] == fmt(raw, col) if (cell[2] or raw is None) else cell[1] == raw)
            for cell, raw, col in zip(srow, erow, header))
        for srow, erow in zip(shown, expected))
    check(values_ok, f"{name}: every number on the page equals psql ({len(rows)} rows)",
          f"\n  page {shown[:3]}\n  psql {expected[:3]}")
    with open(os.path.join(out, name + ".csv"), newline="", encoding="utf-8") as f:
        csv_rows = list(csv.reader(f))
    check(csv_rows == [header] + [[c if c is not None else "" for c in row] for row in rows],
          f"{name}.csv equals psql")
    md_ok = all("| " + " | ".join(cell[1] for cell in srow) + " |" in markdown for srow in shown)
    check(md_ok, f"{name}: Markdown has the same cells")
    if name in CHARTS:
        kind, label_col, value_col = CHARTS[name]
        marks = [m for m in page.charts.get(name, []) if m[0] == ("bar" if kind == "bars" else "point")]
        li, vi = header.index(label_col), header.index(value_col)
        check([(m[1], m[2]) for m in marks] == [(row[li], row[vi]) for row in rows],
              f"{name}: chart has {len(rows)} {kind} with the SQL values", f"{marks[:5]}")


def check_page_offline(page_html, page_path, tmp):
    check(not re.search(r"https?:|//[a-z]|<script|<link|<img|<iframe|@import|url\(|src=|href=",
                        page_html, re.I), "the HTML names no URL, script, link or external resource")
    check_offline(page_path, tmp)


def check_offline(page_path, tmp):
    """Opens the page at `page_path` in headless Chromium inside a network
    namespace of its own (`unshare --net`) and checks: a screenshot is taken,
    the log shows no page errors, and the page requested nothing over the
    network. Console lines whose source is Chromium's own UI (`source:
    chrome://...`, e.g. the composebox "Slow network is detected" note, seen
    now and then offline) and Chromium's own background requests are not the
    page's."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        check(False, "headless Chromium installed (apt-get install chromium)")
        return
    shot = os.path.join(tmp, "report.png")
    netlog = os.path.join(tmp, "net.json")
    cmd = ["unshare", "--net", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={os.path.join(tmp, 'profile')}", "--enable-logging=stderr", "--v=0",
           f"--log-net-log={netlog}", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--window-size=1000,4000", f"--screenshot={shot}", "file://" + page_path]
    try:
        r = run(*cmd, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        check(False, "headless Chromium finished within 120 s")
        return
    check(r.returncode == 0 and os.path.exists(shot) and os.path.getsize(shot) > 10000,
          "headless Chromium took a screenshot", r.stderr[-500:])
    page_errors = [l for l in r.stderr.splitlines()
                   if re.search(r"CONSOLE|Uncaught|Failed to load|net::ERR_|Refused to", l)
                   and not re.search(r"source: chrome://", l)]
    check(not page_errors, "no page errors in Chromium's log", page_errors[:3])
    urls = set(re.findall(r'"url":"([^"]*)"', open(netlog).read())) if os.path.exists(netlog) else set()
    own = re.compile(r"^https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)/")
    page_requests = [u for u in urls if not u.startswith("file://") and not own.match(u)
                     and not u.startswith(("chrome:", "data:", "about:"))]
    check(os.path.exists(netlog) and not page_requests, "the page requested nothing over the network",
          page_requests[:3])


def main():
    with PrivateDB("danescan_test_report", schema=True, fixture=REPORT_FIXTURE) as db, \
            TempDir("danescan-report-") as tmp:
        out = os.path.join(tmp, "out")
        r = run(DANESCAN, "report", "--db", db.url, "--scan", "fx-2", "--previous", "fx-1", "--out", out,
                "--max-changes", str(MAX_CHANGES), text=True)
        if not check(r.returncode == 0, "report exits 0", r.stderr):
            return
        page_html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
        markdown = open(os.path.join(out, "report.md"), encoding="utf-8").read()
        page = Page()
        page.feed(page_html)
        sql_files = sorted(os.path.basename(f)[:-4] for f in glob.glob(os.path.join(REPORTS, "*.sql"))
                           if not os.path.basename(f).startswith("diff_"))
        check(sorted(set(page.tables) | {n for n in sql_files if f'id="t-{n}" data-rows="0"' in page_html})
              == sql_files, "one table on the page per reports/*.sql", f"{sorted(page.tables)}")
        for name in sql_files:
            header, rows = db.psql_file(os.path.join(REPORTS, name + ".sql"), scan_id="fx-2", previous_id="fx-1")
            shown = page.tables.get(name, [])
            shown = [row for row in shown if row]
            expected = rows[:MAX_CHANGES] if name == "status_changes" else rows
            check(len(rows) > 0, f"{name}: the fixture gives rows")
            check_report_table(page, markdown, out, name, header, rows, expected)
        check(page.caps.get("status_changes") == (MAX_CHANGES, 3) and "Showing 2 of 3 rows" in markdown,
              "status changes capped with the count", page.caps)
        loose_digits = [t.strip() for t in page.loose_text if re.search(r"\d", t)]
        check(not loose_digits, "no number outside the tables and charts", loose_digits[:5])
        check("–" not in "".join(c[1] for row in page.tables["headline"] for c in row),
              "headline has every previous figure")
        check_page_offline(page_html, os.path.join(tmp, "out", "report.html"), tmp)

        # Without a previous scan: previous columns empty, no change list.
        out2 = os.path.join(tmp, "out2")
        r = run(DANESCAN, "report", "--db", db.url, "--scan", "fx-1", "--out", out2, text=True)
        check(r.returncode == 0, "report without --previous exits 0", r.stderr)
        if r.returncode == 0:
            p2 = Page()
            p2.feed(open(os.path.join(out2, "report.html"), encoding="utf-8").read())
            check("status_changes" not in p2.tables and all(row[3][0] is None for row in p2.tables["headline"] if row),
                  "no previous scan: empty previous column, no change list")
            check([row[1][1] for row in p2.tables["trend"] if row] == ["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"],
                  "trend stops at the scan and skips other inputs")
        r = run(DANESCAN, "report", "--db", db.url, "--scan", "nope", "--out", os.path.join(tmp, "out3"), text=True)
        check(r.returncode == 1 and "nope" in r.stderr, "unknown scan: exit 1", r.stderr)
        r = run(DANESCAN, "report", "--db", db.url, "--scan", "fx-1", text=True)
        check(r.returncode == 2, "missing --out: usage error")


if __name__ == "__main__":
    run_test(main, need_a_pass=True)
