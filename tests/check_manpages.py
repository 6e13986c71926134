#!/usr/bin/python3
"""The manual pages (docs/man/*.1) against the binary: for each command, the
options its `--help` prints and the options its page lists under OPTIONS
(the tags of .TP/.TQ items) must be the same set (options of --help: those
on its usage line and on lines that start with an option); danescan(1)'s COMMANDS and
danescan-db(1)'s COMMANDS must be the commands the help lists. Each page must
format without groff warnings and have EXAMPLES, EXIT STATUS, FILES and SEE
ALSO. A failure names the page, the option and where it is missing.
Usage: check_manpages.py DANESCAN MAN_DIR"""

import re
import subprocess
import sys

COMMANDS = ["scan", "check", "report", "diff", "worker", "status", "resume", "db", "inputs", "export"]
SECTIONS = ["EXAMPLES", "EXIT STATUS", "FILES", "SEE ALSO"]
OPTION = re.compile(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)")
failures = 0


def fail(what):
    global failures
    failures += 1
    print(f"FAIL {what}")


def help_text(danescan, *args):
    r = subprocess.run([danescan, *args, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        fail(f"danescan {' '.join(args)} --help: exit {r.returncode}")
    return r.stdout


def help_options(text, leads=()):
    """The options of a --help text: those of its usage line and of the lines
    that start with an option or with one of `leads` (the subcommands of
    `danescan db`: "  bench [--domains N]"); prose that mentions another command's option,
    "more join with 'danescan worker --db URL --scan ID'", is no option)."""
    opts = set()
    for line in text.splitlines():
        first = line.lstrip().split(" ", 1)[0]
        if line.startswith("usage:") or first.startswith("--") or first in leads:
            opts.update(OPTION.findall(line))
    return opts


def sections(page_text):
    """{section name: [lines]} of a man(7) page."""
    out, name = {}, None
    for line in page_text.splitlines():
        if line.startswith(".SH "):
            name = line[4:].strip().strip('"')
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def item_tags(lines):
    """The tag lines of the .TP/.TQ items of a section, roff escapes undone."""
    tags = []
    for i, line in enumerate(lines):
        if line in (".TP", ".TQ") and i + 1 < len(lines):
            tags.append(lines[i + 1].replace("\\-", "-").replace("\\fB", "").replace("\\fP", "")
                        .replace("\\fI", "").replace("\\fR", ""))
    return tags


def page_options(secs):
    opts = set()
    for name, lines in secs.items():
        if "OPTIONS" in name:
            for tag in item_tags(lines):
                opts.update(OPTION.findall(tag))
    return opts


def compare(what, page, from_help, from_page):
    for o in sorted(from_help - from_page):
        fail(f"{page}: {what} '{o}' is in --help but not in the page")
    for o in sorted(from_page - from_help):
        fail(f"{page}: {what} '{o}' is in the page but not in --help")
    if from_help == from_page:
        print(f"ok   {page}: the same {len(from_help)} {what}s as --help")


def check_page(path, name):
    with open(path) as f:
        text = f.read()
    r = subprocess.run(["groff", "-man", "-ww", "-z", path], stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or r.stderr.strip():
        fail(f"{name}: groff warnings: {r.stderr.strip()[:500]}")
    secs = sections(text)
    for s in SECTIONS:
        if s not in secs:
            fail(f"{name}: no {s} section")
    return secs


def main():
    danescan, man_dir = sys.argv[1], sys.argv[2]
    secs = check_page(f"{man_dir}/danescan.1", "danescan(1)")
    listed = set(re.findall(r"^  ([a-z][a-z-]*) ", help_text(danescan), re.M))
    documented = {t.split()[1] for t in item_tags(secs.get("COMMANDS", [])) if t.startswith(".B ")}
    compare("command", "danescan(1)", listed, documented)
    for command in COMMANDS:
        name = f"danescan-{command}(1)"
        try:
            secs = check_page(f"{man_dir}/danescan-{command}.1", name)
        except OSError as e:
            fail(f"{name}: {e}")
            continue
        text = help_text(danescan, command)
        subs = set()
        if command == "db":
            subs = set(re.findall(r"^  ([a-z][a-z-]*)", text, re.M))
            documented = {t.split()[1] for t in item_tags(secs.get("COMMANDS", [])) if t.startswith((".B ", ".BI "))}
            compare("db command", name, subs, documented)
        compare("option", name, help_options(text, subs) - {"help"}, page_options(secs) - {"help"})
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
