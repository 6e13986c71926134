"""Helpers shared by the lab's probe tests (tests/integration/test_probe_lab.py,
tests/integration/test_posttls_finger.py): bring the lab up, read its
expectations, run `danescan scan --probe dane --allow-reserved` inside the
lab namespace, run Postfix's posttls-finger and classify what it says.

Python 3 stdlib only; the tests import it from scripts/lab.d."""

import json
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(REPO, "scripts", "lab")
NS = os.environ.get("DANESCAN_LAB_NS", "danescan-lab")


def run(*cmd, timeout=None, **kw):
    return subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, **kw)


def lab_up():
    """Brings the lab up unless it is up and its mail servers run. Returns
    (started_by_us, error text or None)."""
    was_up = run(LAB, "status").returncode == 0
    if was_up and os.path.exists(smtp_plan_path()):
        return False, None
    # Down, or up from before the lab had mail servers: (re)start it. A lab
    # that was already up is left up afterwards (someone else is using it).
    p = run(LAB, "up")
    if p.returncode != 0:
        return not was_up, p.stderr.decode(errors="replace")[-3000:]
    return not was_up, None


def lab_down():
    run(LAB, "down")


def smtp_plan_path():
    state = os.environ.get("DANESCAN_STATE") or os.path.join(REPO, ".state")
    return os.path.join(state, "lab", "smtp.json")


def public_ca_path():
    """The lab's "public" root (labworld TlsMaterial.public_ca): what a lab
    scan passes as --ca-file so that DANE-TA records on the `pubint`
    intermediate are flagged ta-public-intermediate."""
    state = os.environ.get("DANESCAN_STATE") or os.path.join(REPO, ".state")
    return os.path.join(state, "lab", "tls", "pub-root.crt")


def expectations():
    p = run(LAB, "expect")
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]


def hosts():
    return json.loads(run(LAB, "hosts").stdout.decode())


# ---------------------------------------------------------------------------
# danescan

def scanner_help(danescan):
    try:
        p = run(danescan, "scan", "--help", timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def scanner_probes(danescan):
    """True when the scanner takes --probe dane --allow-reserved."""
    h = scanner_help(danescan)
    return "--allow-reserved" in h


def scan_options(danescan, smtp_port):
    """Options for a lab scan: short step timeouts and retry delay when the
    scanner has them (the silent server otherwise costs the scanner's patient
    defaults, twice)."""
    h = scanner_help(danescan)
    opts = ["--probe", "dane", "--allow-reserved", "--no-progress"]
    if smtp_port != 25 and "--smtp-port" in h:
        opts += ["--smtp-port", str(smtp_port)]
    if "--ca-file" in h and os.path.exists(public_ca_path()):
        opts += ["--ca-file", public_ca_path()]
    for flag, value in (("--greeting-timeout-ms", "8000"), ("--connect-timeout-ms", "5000"),
                        ("--ehlo-timeout-ms", "8000"), ("--starttls-timeout-ms", "8000"),
                        ("--handshake-timeout-ms", "8000"), ("--probe-retry-delay-ms", "500")):
        if flag in h:
            opts += [flag, value]
    return opts


def scan(danescan, domains, tmpdir, extra=(), timeout=600):
    """Runs the scanner in the lab namespace; returns (process, {domain: record})."""
    inp = os.path.join(tmpdir, "probe-domains.txt")
    out = os.path.join(tmpdir, "probe-out.jsonl")
    with open(inp, "w") as f:
        f.write("".join(d + "\n" for d in domains))
    if os.path.exists(out):
        os.unlink(out)
    p = run("ip", "netns", "exec", NS, danescan, "scan", *extra, "--output", out, inp,
            timeout=timeout)
    records = {}
    if os.path.exists(out):
        with open(out) as f:
            for line in f:
                r = json.loads(line)
                records[r["domain"]] = r
    return p, records


def address_probes(record):
    """{host: {ip: probe object}} of a domain record."""
    out = {}
    for h in record.get("mx") or []:
        per = {}
        for a in h.get("addresses") or []:
            per[a.get("ip")] = a.get("probe") or {}
        out[h["host"]] = per
    return out


def host_objects(record):
    """{host: host object} of a domain record."""
    return {h["host"]: h for h in record.get("mx") or []}


def probe_match(probe, host_obj):
    """("u s m", depth) of the TLSA record the scanner says matched
    (probe.tls.matched_tlsa indexes the host's tlsa array), or (None, None)."""
    tls = probe.get("tls") or {}
    idx, depth = tls.get("matched_tlsa"), tls.get("match_depth")
    if idx is None:
        return None, depth
    try:
        t = host_obj["tlsa"][idx]
    except (KeyError, IndexError, TypeError):
        return f"bad index {idx}", depth
    return f"{t['usage']} {t['selector']} {t['matching_type']}", depth


# ---------------------------------------------------------------------------
# posttls-finger

SESSION_START = re.compile(r"(?:Connected to|connect to) (\S+)\[([0-9a-fA-F:.]+)\]:(\d+)")


def posttls_env():
    """Environment for posttls-finger: MAIL_CONFIG names a private client
    configuration under the lab's state directory, so the reference client
    neither needs nor reads the machine's /etc/postfix/main.cf (Debian's
    "No configuration" install has none)."""
    state = os.environ.get("DANESCAN_STATE") or os.path.join(REPO, ".state")
    conf = os.path.join(state, "lab", "posttls-finger")
    os.makedirs(conf, exist_ok=True)
    main = os.path.join(conf, "main.cf")
    if not os.path.exists(main):
        with open(main, "w") as f:
            f.write("# posttls-finger client settings of the danescan lab tests\n"
                    "compatibility_level = 3.6\n"
                    "smtp_dns_support_level = dnssec\n")
    return dict(os.environ, MAIL_CONFIG=conf)


def posttls_finger(host, family, port=25, timeout_s=10):
    """Runs posttls-finger in DANE mode against [host]:port (no MX lookup;
    the TLSA lookup and CNAME handling are Postfix's own) preferring one
    address family. Returns the output text."""
    cmd = ["ip", "netns", "exec", NS, "posttls-finger", f"-t{timeout_s}", f"-T{timeout_s}",
           "-a", "ipv4" if family == 4 else "ipv6", "-l", "dane", "-L", "summary,certmatch",
           "-P", "/etc/ssl/certs", f"[{host}]:{port}"]
    try:
        p = run(*cmd, timeout=4 * timeout_s + 10, env=posttls_env())
        return p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return "posttls-finger: TIMEOUT (killed by the test)"


def classify_posttls(text):
    """{ip: verdict} from posttls-finger output. A verdict is a dict:
    result (a RESULTS.md word or 'unknown'), authenticated (bool), match
    ('u s m' of the matched record or None), depth (int or None), line."""
    sessions = {}
    order = []
    cur = None
    for line in text.splitlines():
        m = SESSION_START.search(line)
        if m:
            cur = m.group(2)
            if cur not in sessions:
                sessions[cur] = []
                order.append(cur)
            sessions[cur].append(line)
            continue
        m = re.search(r"\[([0-9a-fA-F:.]+)\]:\d+", line)
        if m and m.group(1) in sessions:
            cur = m.group(1)
        if cur is not None:
            sessions[cur].append(line)
    out = {}
    for ip in order:
        lines = sessions[ip]
        body = "\n".join(lines)
        v = {"result": "unknown", "authenticated": False, "match": None, "depth": None,
             "line": ""}
        mm = re.search(r"Matched DANE (EE|TA) (?:certificate|public key) at depth (\d+): (\d) (\d) (\d)", body)
        if mm:
            v["match"] = f"{mm.group(3)} {mm.group(4)} {mm.group(5)}"
            v["depth"] = int(mm.group(2))
        if "Verified TLS connection established" in body:
            v.update(result="authenticated", authenticated=True)
        elif "Untrusted TLS connection established" in body:
            if "no matching DANE TLSA records" in body:
                v["result"] = "tlsa-mismatch"
            elif "hostname mismatch" in body:
                v["result"] = "name-mismatch"
            elif "certificate has expired" in body or "certificate is not yet valid" in body:
                v["result"] = "cert-expired"
            elif "untrusted issuer" in body or "unable to get local issuer" in body:
                v["result"] = "unauthenticated-tls"   # fell back to PKIX (no usable TLSA)
            else:
                v["result"] = "tlsa-mismatch"
        elif "STARTTLS rejected" in body:
            v["result"] = "starttls-refused"
        elif "SSL_connect error" in body or "TLS handshake failed" in body \
                or "Cannot start TLS" in body:
            v["result"] = "tls-failed"
        elif "Connection refused" in body or "No route to host" in body:
            v["result"] = "connect-failed"
        elif "timeout" in body.lower() or "timed out" in body.lower():
            v["result"] = "timeout"
        elif "SMTP service not available" in body:
            v["result"] = "smtp-failed"
        elif "< 250" in body and "> STARTTLS" not in body and "STARTTLS" not in body.split("> EHLO", 1)[-1]:
            v["result"] = "no-starttls"
        for l in lines[::-1]:
            if "TLS connection established" in l or "rejected" in l or "error" in l \
                    or "refused" in l or "timeout" in l or "not available" in l:
                v["line"] = l.strip()
                break
        out[ip] = v
    return out
