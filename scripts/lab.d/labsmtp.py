"""The lab's mail servers: one server behind each MX address (port 25 by
default, DANESCAN_LAB_SMTP_PORT otherwise), as declared by the `smtp =`
lines of the [host] sections of tests/lab/cases.txt (see SmtpSpec in
labworld.py); an address without a declaration gets real Postfix smtpd with
the host's lab keys (CA-issued chains).

  postfix  one private Postfix instance (<state>/postfix/{etc,queue,data}),
           master.cf with one smtpd service per address, per-service
           smtpd_tls_chain_files; no local delivery, nothing but smtpd
           (+ anvil, tlsmgr, postlogd). `postfix -c <state>/postfix/etc start`.
  sink     Postfix smtp-sink, one process per address (raw options).
  labsmtp  danescan-labsmtp (build/ or build-asan/ or $DANESCAN_LABSMTP),
           one process per address.
  closed   nothing listens: connection refused.

lab.py calls plan() while building, start() after DNS is up, stop() from
stop_servers(). Pidfiles: <state>/smtp/*.pid and Postfix's master.pid.
"""

import glob
import json
import os
import shutil
import subprocess
import time

import labworld

SMTP_PORT = int(os.environ.get("DANESCAN_LAB_SMTP_PORT", "25"))


def smtp_hosts(world):
    """MX-ish hosts that get servers: every owner of an auto address except
    the benchmark zone's."""
    out = []
    for h in world.addresses:
        z = world.zone_of(labworld.fqdn(h))
        if z is not None and z.bulk:
            continue
        out.append(h)
    return out


def _certs(tls, host, spec):
    """[(alg, key, chain)] the server presents, from spec.opts certs/keys-of."""
    owner = labworld.bare(spec.opts.get("keys-of", host))
    items = [i for i in (spec.opts.get("certs") or "").split(",") if i]
    if not items:
        have = [a for a in labworld.TLS_ALGS
                if os.path.exists(os.path.join(tls.dir, owner, f"{a}.key"))]
        items = have or ["ecdsa"]
    out = []
    for item in items:
        alg, _, variant = item.partition(":")
        key, chain = tls.variant(owner, alg, variant or "ca")
        out.append((alg, key, chain))
    return out


def plan(world, tls):
    """One entry per address: {host, ip, family, kind, port, opts, raw,
    certs: [[alg, key, chain]]}. Generates missing keys/certs."""
    entries = []
    for host in smtp_hosts(world):
        decl = world.hostdecls.get(host)
        specs = decl.smtp_specs if decl else []
        for fam, key in ((4, "ipv4"), (6, "ipv6")):
            ip = world.addresses[host].get(key)
            if not ip:
                continue
            spec = None
            for s in specs:
                if s.family is None and spec is None:
                    spec = s
            for s in specs:
                if s.family == fam:
                    spec = s
            if spec is None:
                spec = labworld.SmtpSpec(None, "postfix", {}, [])
            certs = []
            if spec.kind in ("postfix", "labsmtp"):
                certs = [list(c) for c in _certs(tls, host, spec)]
            entries.append({"host": host, "ip": ip, "family": fam, "kind": spec.kind,
                            "port": SMTP_PORT, "opts": dict(spec.opts), "raw": list(spec.raw),
                            "certs": certs})
    return entries


def listen_text(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# ---------------------------------------------------------------------------
# Postfix

def postfix_dirs(state):
    base = os.path.join(state, "postfix")
    return base, os.path.join(base, "etc"), os.path.join(base, "queue"), os.path.join(base, "data")


def write_postfix(state, entries):
    base, etc, queue, data = postfix_dirs(state)
    for d in (etc, queue, data):
        os.makedirs(d, exist_ok=True)
    shutil.chown(data, "postfix", "postfix")
    main = f"""# private Postfix instance of the danescan lab (scripts/lab): smtpd only
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {queue}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = smtpd.lab
mydomain = lab
myorigin = $myhostname
mydestination =
relay_domains =
local_recipient_maps =
inet_interfaces = all
inet_protocols = all
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = reject
smtpd_recipient_restrictions = reject
smtpd_banner = $myhostname ESMTP danescan lab
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_restrictions =
# no PTR/A lookups of the client before the greeting: under the WAN modes
# they cross the lossy resolver-to-authority path, and a lost reply there
# held a greeting past 10 s twice in a row (test_scan_wan, all10)
smtpd_peername_lookup = no
smtpd_helo_required = no
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database =
smtpd_tls_received_header = no
default_process_limit = 200
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
biff = no
alias_maps =
alias_database =
"""
    master = ["# generated by scripts/lab -- one smtpd per lab MX address",
              "anvil     unix  -       -       n       -       1       anvil",
              "tlsmgr    unix  -       -       n       1000?   1       tlsmgr",
              "postlog   unix-dgram n  -       n       -       1       postlogd"]
    for e in entries:
        if e["kind"] != "postfix":
            continue
        opts = [f"-o myhostname={e['host']}", "-o syslog_name=postfix/" + e["host"]]
        if e["opts"].get("starttls") == "no":
            opts.append("-o smtpd_tls_security_level=none")
        else:
            files = ",".join(f"{k},{c}" for _, k, c in e["certs"])
            opts.append(f"-o smtpd_tls_chain_files={files}")
        master.append(f"{listen_text(e['ip'], e['port'])} inet n - n - - smtpd " + " ".join(opts))
    labworld_write(os.path.join(etc, "main.cf"), main)
    labworld_write(os.path.join(etc, "master.cf"), "\n".join(master) + "\n")
    return any(e["kind"] == "postfix" for e in entries)


def labworld_write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def postfix_pidfile(state):
    return os.path.join(postfix_dirs(state)[2], "pid", "master.pid")


# ---------------------------------------------------------------------------
# Finding danescan-labsmtp

def find_labsmtp(repo):
    env = os.environ.get("DANESCAN_LABSMTP")
    if env:
        if os.access(env, os.X_OK):
            return env
        raise RuntimeError(f"DANESCAN_LABSMTP={env} is not executable")
    for b in ("build", "build-asan"):
        p = os.path.join(repo, b, "tests", "labsmtp", "danescan-labsmtp")
        if os.access(p, os.X_OK):
            return p
    build = os.path.join(repo, "build")
    if os.path.exists(os.path.join(build, "CMakeCache.txt")):
        p = subprocess.run(["cmake", "--build", build, "--target", "danescan-labsmtp"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        path = os.path.join(build, "tests", "labsmtp", "danescan-labsmtp")
        if p.returncode == 0 and os.access(path, os.X_OK):
            return path
    raise RuntimeError("danescan-labsmtp not found: build it (cmake --build build --target "
                       "danescan-labsmtp) or set DANESCAN_LABSMTP=/path/to/danescan-labsmtp")


# ---------------------------------------------------------------------------
# Start / stop

def smtp_dir(state):
    return os.path.join(state, "smtp")


def pidfiles(state):
    """name -> pidfile of every lab mail server process."""
    out = {}
    for p in sorted(glob.glob(os.path.join(smtp_dir(state), "*.pid"))):
        out["smtp-" + os.path.basename(p)[:-4]] = p
    pf = os.path.join(state, "postfix", ".enabled")
    if os.path.exists(pf):
        out["postfix"] = postfix_pidfile(state)
    return out


def start(state, ns, repo, entries):
    """Starts every server of the plan inside namespace ns. Returns the list
    of (ip, port) that must be listening. Raises RuntimeError."""
    sdir = smtp_dir(state)
    os.makedirs(sdir, exist_ok=True)
    for f in glob.glob(os.path.join(sdir, "*.pid")):
        os.unlink(f)
    want = []
    enabled = os.path.join(state, "postfix", ".enabled")
    if write_postfix(state, entries):
        etc = postfix_dirs(state)[1]
        # `script` gives postfix a terminal: it prints its fatal errors only there.
        p = subprocess.run(["script", "-qec", f"ip netns exec {ns} postfix -c {etc} start",
                            "/dev/null"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError(f"postfix -c {etc} start: {p.stdout.decode(errors='replace').strip()}")
        labworld_write(enabled, "1\n")
    elif os.path.exists(enabled):
        os.unlink(enabled)
    labsmtp = None
    for i, e in enumerate(entries):
        lt = listen_text(e["ip"], e["port"])
        if e["kind"] == "postfix":
            want.append((e["ip"], e["port"]))
            continue
        if e["kind"] == "closed":
            continue
        name = f"{e['kind']}-{e['host']}-{e['family']}"
        log = os.path.join(sdir, name + ".log")
        if e["kind"] == "sink":
            cmd = ["smtp-sink", "-u", "nobody", "-h", e["host"]] + e["raw"] + [lt, "64"]
        else:
            labsmtp = labsmtp or find_labsmtp(repo)
            cmd = [labsmtp, "--mode", e["opts"]["mode"], "--listen", lt, "--name", e["host"],
                   "--log", os.path.join(sdir, name + ".conn.log")]
            for _, k, c in e["certs"]:
                cmd += ["--cert", c, "--key", k]
        with open(log, "w") as out:
            proc = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        labworld_write(os.path.join(sdir, name + ".pid"), f"{proc.pid}\n")
        want.append((e["ip"], e["port"]))
    return want


def listening(ns):
    p = subprocess.run(["ip", "netns", "exec", ns, "ss", "-Hltn"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    out = set()
    for line in p.stdout.decode().splitlines():
        toks = line.split()
        if len(toks) >= 4:
            addr, _, port = toks[3].rpartition(":")
            out.add((addr.strip("[]"), port))
    return out


def wait_listening(ns, want, timeout_s):
    """Waits until every (ip, port) listens; returns the missing ones."""
    deadline = time.monotonic() + timeout_s
    missing = set((ip, str(port)) for ip, port in want)
    while True:
        missing -= listening(ns)
        if not missing or time.monotonic() > deadline:
            return sorted(missing)
        time.sleep(0.1)


def save_plan(state, entries):
    labworld_write(os.path.join(state, "smtp.json"), json.dumps(entries, indent=1) + "\n")


def load_plan(state):
    try:
        with open(os.path.join(state, "smtp.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return []
