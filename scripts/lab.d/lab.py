#!/usr/bin/python3
"""scripts/lab: the danescan lab world (a small DNSSEC Internet in a network
namespace). See tests/lab/README.md.

  lab up         build everything from tests/lab/cases.txt, start NSD x4 and
                 Unbound in the namespace, wait until Unbound validates, then
                 start the mail servers behind the MX addresses (Postfix
                 smtpd, smtp-sink, danescan-labsmtp; see labsmtp.py)
  lab down       stop every process of the lab, delete the namespace
  lab status     what runs (exit 0 all up, 3 down, 1 partly up)
  lab exec CMD   run CMD inside the namespace
  lab expect     expected DNS-only results, one JSON object per line
  lab domains    the case domains, one per line (inputs/lab-domains.txt)
  lab hosts      auto-allocated MX host addresses and TLS files (JSON)
  lab verify     check every case with dig against the lab resolver
  lab build      generate zones/configs only (no namespace, no process)
  lab up --bulk N      also serve bulk.lab with N benchmark domains d<i>.bulk.lab
                       (or DANESCAN_LAB_BULK=N); signed once, cached in state/bulk
  lab bulk-domains N   the N benchmark domains; lab bulk-expect N: their expectations
  lab up --wan PROFILE Internet-like delay and loss between Unbound and the
                       authorities (or DANESCAN_LAB_WAN=PROFILE): delay, loss1,
                       loss10, [,ROLE=MIN-MAX|ROLE=dead]... (see labwan.py)
  lab loss PCT         drop PCT% of every packet in the namespace (nftables,
                       input hook: silent loss; --at-send: output hook, the
                       sender gets EPERM); lab loss 0 stops it; lab loss: show

Environment: DANESCAN_LAB_WAN (= --wan), DANESCAN_LAB_UNBOUND (more Unbound
server: lines, ';'-separated, e.g. "wait-limit: 0; discard-timeout: 0"), DANESCAN_LAB_NS (namespace, default danescan-lab),
DANESCAN_STATE (state root, default <repo>/.state; the lab uses <root>/lab),
DANESCAN_LAB_CASES (cases file, default <repo>/tests/lab/cases.txt),
DANESCAN_LAB_SMTP_PORT (mail servers' port, default 25), DANESCAN_LABSMTP
(the danescan-labsmtp binary, default build/ or build-asan/),
DANESCAN_LAB_KEY_CACHE (a directory: a lab whose state has no keys/ or tls/
yet starts from the DNSSEC keys and TLS keys/certificates cached there, and
adds the ones it had to make; scripts/test sets it so the suite's many
private labs do not each generate the same keys: ~60 s less per lab under
ASan load).
"""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labworld  # noqa: E402
import labsmtp  # noqa: E402
import labwan  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
NS = os.environ.get("DANESCAN_LAB_NS", "danescan-lab")
STATE = os.path.join(os.environ.get("DANESCAN_STATE") or os.path.join(REPO, ".state"), "lab")
ETC_NETNS = f"/etc/netns/{NS}"
CASES = os.environ.get("DANESCAN_LAB_CASES") or os.path.join(REPO, "tests", "lab", "cases.txt")


def log(msg):
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def ns_exists():
    return os.path.exists(f"/run/netns/{NS}")


def ns_inode():
    try:
        return os.stat(f"/run/netns/{NS}").st_ino
    except OSError:
        return None


def pid_in_ns(pid):
    """True if pid is alive and lives in our namespace."""
    ino = ns_inode()
    try:
        return ino is not None and os.stat(f"/proc/{pid}/ns/net").st_ino == ino and alive(pid)
    except OSError:
        return False


def pidfiles():
    out = {}
    for role in labworld.NSD_ROLES:
        out[f"nsd-{role}"] = os.path.join(STATE, f"nsd-{role}", "nsd.pid")
    out["unbound"] = os.path.join(STATE, "unbound", "unbound.pid")
    out.update(labsmtp.pidfiles(STATE))
    out.update(labwan.pidfiles(STATE))
    return out


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def running():
    """name -> pid for each lab server alive in the namespace."""
    out = {}
    for name, path in pidfiles().items():
        pid = read_pid(path)
        if pid and pid_in_ns(pid):
            out[name] = pid
    return out


def alive(pid):
    """True while pid exists and is not a zombie (daemons are reparented to
    a PID 1 that may reap them late)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_pid(pid, grace_s=3.0):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        # reap if it is our child
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def group_members(pgid):
    """Live (non-zombie) processes of process group pgid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(d))
    return out


def kill_group(pid, grace_s=5.0):
    """Stops a daemon and every process of its group (NSD's server and xfrd
    children keep port 53 bound until they are gone)."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    if pgid != pid or pgid == os.getpgrp():
        kill_pid(pid, grace_s)
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_members(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while group_members(pgid) and time.monotonic() < deadline + 2:
            time.sleep(0.05)


def stop_servers():
    for name, pid in running().items():
        kill_group(pid)
    for path in pidfiles().values():
        try:
            os.unlink(path)
        except OSError:
            pass


class Lock:
    def __enter__(self):
        os.makedirs(STATE, exist_ok=True)
        self.f = open(os.path.join(STATE, ".lock"), "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *a):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def sh(cmd, check=True, quiet=False):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.decode(errors='replace').strip()}")
    return p


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


KEY_DIRS = ("keys", "tls")  # what the key cache holds; digests.json is per-path, not cached


def key_cache_seed():
    """A new state (no keys/, no tls/) starts from DANESCAN_LAB_KEY_CACHE."""
    cache = os.environ.get("DANESCAN_LAB_KEY_CACHE")
    if not cache:
        return
    for sub in KEY_DIRS:
        src, dst = os.path.join(cache, sub), os.path.join(STATE, sub)
        if os.path.isdir(src) and not os.path.exists(dst):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("digests.json*", "*.tmp"))


def key_cache_store():
    """Adds the keys and certificates this build made to the cache, one
    whole directory at a time (copied aside, then renamed into place), so a
    lab building at the same time never sees half of one: keys/<zone>/ per
    zone; tls/ whole when the cache has none, else tls/<host>/ per host, and
    only when this lab's CA is the cache's (host certificates are signed by
    it). What the cache already holds is left alone."""
    cache = os.environ.get("DANESCAN_LAB_KEY_CACHE")
    if not cache:
        return
    os.makedirs(cache, exist_ok=True)

    def put(src, dst):
        if os.path.exists(dst):
            return
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = f"{dst}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("digests.json*", "*.tmp"))
        try:
            os.rename(tmp, dst)
        except OSError:  # another lab put it first
            shutil.rmtree(tmp, ignore_errors=True)

    keys = os.path.join(STATE, "keys")
    if os.path.isdir(keys):
        for zone in os.listdir(keys):
            put(os.path.join(keys, zone), os.path.join(cache, "keys", zone))
    tls, cached_tls = os.path.join(STATE, "tls"), os.path.join(cache, "tls")
    if not os.path.isdir(tls):
        return
    if not os.path.exists(cached_tls):
        put(tls, cached_tls)
        return

    def same(a, b):
        try:
            with open(a, "rb") as fa, open(b, "rb") as fb:
                return fa.read() == fb.read()
        except OSError:
            return False
    if not same(os.path.join(tls, "ca.crt"), os.path.join(cached_tls, "ca.crt")):
        return
    for host in os.listdir(tls):
        if os.path.isdir(os.path.join(tls, host)) and host != "ca-db":
            put(os.path.join(tls, host), os.path.join(cached_tls, host))


def do_build(world, wan=None):
    t0 = time.monotonic()
    key_cache_seed()
    built = labworld.build(world, CASES, STATE)
    for role in labworld.NSD_ROLES:
        rundir = os.path.join(STATE, f"nsd-{role}")
        os.makedirs(rundir, exist_ok=True)
        write(os.path.join(rundir, "nsd.conf"),
              labworld.nsd_conf(role, rundir, built["served"].get(role, []),
                                labwan.WAN_BACKEND_PORT if wan else 53))
    udir = os.path.join(STATE, "unbound")
    os.makedirs(udir, exist_ok=True)
    ctl = os.path.join(udir, "control.sock")
    write(os.path.join(udir, "unbound.conf"),
          labworld.unbound_conf(udir, world, ctl if len(ctl) < 100 else None,
                                [l.strip() for l in os.environ.get("DANESCAN_LAB_UNBOUND", "").split(";")
                                 if l.strip()]))
    write(os.path.join(udir, "root.hints"), labworld.root_hints())
    write(os.path.join(udir, "root.anchor"), (built["root_ds"] or "") + "\n")
    write(os.path.join(STATE, "expect.jsonl"),
          "".join(json.dumps(e) + "\n" for e in labworld.expectations(world)))
    labsmtp.save_plan(STATE, labsmtp.plan(world, built["tls"]))
    built["tls"].save()
    key_cache_store()
    write(os.path.join(STATE, "hosts.json"), json.dumps(hosts_info(world), indent=1) + "\n")
    return time.monotonic() - t0


def hosts_info(world):
    tlsdir = os.path.join(STATE, "tls")
    out = {"resolver": [labworld.RESOLVER4, labworld.RESOLVER6],
           "namespace": NS, "tls_dir": tlsdir,
           "ca": {"cert": os.path.join(tlsdir, "ca.crt"), "key": os.path.join(tlsdir, "ca.key")},
           "hosts": {}}
    names = set(world.addresses) | set(world.hostdecls)
    if os.path.isdir(tlsdir):
        names |= {d for d in os.listdir(tlsdir) if os.path.isdir(os.path.join(tlsdir, d))}
    for h in sorted(names):
        entry = dict(world.addresses.get(h, {}))
        certs = {}
        for alg in labworld.TLS_ALGS:
            key = os.path.join(tlsdir, h, f"{alg}.key")
            if os.path.exists(key):
                certs[alg] = {"key": key, "cert": os.path.join(tlsdir, h, f"{alg}.crt"),
                              "chain": os.path.join(tlsdir, h, f"{alg}.chain.pem"),
                              "self_cert": os.path.join(tlsdir, h, f"{alg}.self.crt")}
        if certs:
            entry["tls"] = certs
        decl = world.hostdecls.get(h)
        if decl:
            entry["issuer"] = decl.issuer
            if decl.smtp:
                entry["smtp"] = decl.smtp
        out["hosts"][h] = entry
    # The mail server behind each address (written by `up`/`build`).
    plan = labsmtp.load_plan(STATE)
    out["smtp_port"] = plan[0]["port"] if plan else labsmtp.SMTP_PORT   # as built, not as the env says now
    for e in plan:
        h = out["hosts"].setdefault(e["host"], {})
        h.setdefault("servers", {})[e["ip"]] = {
            "kind": e["kind"], "port": e["port"], "opts": e["opts"], "raw": e["raw"],
            "certs": [{"alg": a, "key": k, "chain": c} for a, k, c in e["certs"]]}
    return out


def setup_namespace(world):
    if not ns_exists():
        sh(["ip", "netns", "add", NS])
    sh(["ip", "-n", NS, "link", "set", "lo", "up"])
    # `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over
    # /etc/resolv.conf: plain dig (and the scanner's default) use the lab.
    write(os.path.join(ETC_NETNS, "resolv.conf"),
          f"# danescan lab resolver (scripts/lab)\nnameserver {labworld.RESOLVER4}\n"
          f"nameserver {labworld.RESOLVER6}\noptions edns0 trust-ad\n")
    v4, v6 = labworld.lab_addresses(world)
    have = sh(["ip", "-n", NS, "addr", "show", "dev", "lo"]).stdout.decode()
    present = set()
    for line in have.splitlines():
        toks = line.split()
        if len(toks) >= 2 and toks[0] in ("inet", "inet6"):
            present.add(toks[1].split("/")[0])
    batch = []
    for a in v4:
        if a not in present:
            batch.append(f"addr add {a}/32 dev lo")
    for a in v6:
        if a not in present:
            batch.append(f"addr add {a}/128 dev lo nodad")
    if batch:
        p = subprocess.run(["ip", "-n", NS, "-batch", "-"], input="\n".join(batch).encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise RuntimeError(f"ip -batch: {p.stderr.decode(errors='replace').strip()}")


def in_ns(cmd):
    return ["ip", "netns", "exec", NS] + cmd


def rotate_logs():
    """Keeps one previous log of each server (logs grow with val-log-level 2)."""
    for d, name in [(f"nsd-{r}", "nsd.log") for r in labworld.NSD_ROLES] + [("unbound", "unbound.log")]:
        path = os.path.join(STATE, d, name)
        if os.path.exists(path):
            os.replace(path, path + ".1")


def start_servers(wan=None):
    rotate_logs()
    for role in labworld.NSD_ROLES:
        conf = os.path.join(STATE, f"nsd-{role}", "nsd.conf")
        p = sh(in_ns(["nsd", "-c", conf]), check=False)
        if p.returncode != 0:
            raise RuntimeError(f"nsd ({role}) did not start: {p.stderr.decode(errors='replace').strip()}"
                               f" (see {os.path.dirname(conf)}/nsd.log)")
    if wan:
        labwan.start(STATE, NS, wan)
    conf = os.path.join(STATE, "unbound", "unbound.conf")
    p = sh(["unbound-checkconf", conf], check=False)
    if p.returncode != 0:
        raise RuntimeError(f"unbound-checkconf: {p.stdout.decode()}{p.stderr.decode()}")
    p = sh(in_ns(["unbound", "-c", conf]), check=False)
    if p.returncode != 0:
        raise RuntimeError(f"unbound did not start: {p.stderr.decode(errors='replace').strip()}"
                           f" (see {STATE}/unbound/unbound.log)")


def dig_ok(timeout_s, world=None, nsd_port=53):
    """Waits until every NSD answers (an NSD answers nothing while it loads
    its zones) and Unbound answers a validated (AD) query for lab. SOA.
    nsd_port: the NSDs' port (WAN mode: the back end behind the proxies)."""
    deadline = time.monotonic() + timeout_s
    probes = []
    if world is not None:
        served = {}
        for z in world.zones.values():
            if z.served:
                served.setdefault(z.server, []).append(z.name)
        for role in labworld.NSD_ROLES:
            zone = (served.get(role) or ["lab."])[-1]
            want = "status: NOERROR" if role in served else "status: REFUSED"
            probes.append((["dig", "@" + labworld.SERVERS[role][1], "-p", str(nsd_port), "+norec", "+time=1",
                            "+tries=1", zone, "SOA"], want, False))
    probes.append((["dig", "@" + labworld.RESOLVER4, "+time=1", "+tries=1", "+dnssec",
                    "lab.", "SOA"], "status: NOERROR", True))
    last = ""
    for cmd, want, need_ad in probes:
        while True:
            p = sh(in_ns(cmd), check=False)
            out = p.stdout.decode(errors="replace")
            last = out
            flags = out.split("flags:", 1)[-1].split(";", 1)[0]
            if want in out and (not need_ad or " ad" in flags):
                break
            if time.monotonic() > deadline:
                return False, f"{' '.join(cmd)}:\n{last}"
            time.sleep(0.1)
    return True, ""


def bulk_count(args):
    """--bulk N (or DANESCAN_LAB_BULK=N): add the benchmark zone bulk.lab."""
    n = os.environ.get("DANESCAN_LAB_BULK", "0")
    if "--bulk" in args:
        i = args.index("--bulk")
        if i + 1 >= len(args):
            raise RuntimeError("--bulk wants a number")
        n = args[i + 1]
    try:
        return max(0, int(n))
    except ValueError:
        raise RuntimeError(f"--bulk: not a number: {n}")


def wan_spec(args):
    """--wan PROFILE (or DANESCAN_LAB_WAN): None for the clean lab."""
    spec = os.environ.get("DANESCAN_LAB_WAN") or None
    if "--wan" in args:
        i = args.index("--wan")
        if i + 1 >= len(args):
            raise RuntimeError("--wan wants a profile (" + ", ".join(labwan.PROFILES) + ")")
        spec = args[i + 1]
    if spec in ("", "none", "off"):
        return None
    if spec is not None:
        labwan.parse(spec)   # fails early on a typo
    return spec


def cmd_up(args):
    t0 = time.monotonic()
    world = labworld.parse_world(CASES)
    bulk = bulk_count(args)
    wan = wan_spec(args)
    labworld.add_bulk(world, bulk)
    with Lock():
        stop_servers()
        labwan.clear(STATE)
        build_s = do_build(world, wan)
        setup_namespace(world)
        if shutil.which("nft"):
            labwan.set_loss(NS, 0)
        start_servers(wan)
        ok, last = dig_ok(10.0 + bulk / 20000.0 + (20.0 if wan else 0.0), world,
                          labwan.WAN_BACKEND_PORT if wan else 53)
        if ok:
            entries = labsmtp.load_plan(STATE)
            want = labsmtp.start(STATE, NS, REPO, entries)
            missing = labsmtp.wait_listening(NS, want, 10.0)
            if missing:
                log(f"mail servers not listening on {missing}; logs: {STATE}/smtp/*.log, "
                    f"{STATE}/postfix/maillog")
                return 1
    if not ok:
        log("Unbound does not answer with AD for lab. SOA; last answer:\n" + last)
        log(f"logs: {STATE}/unbound/unbound.log, {STATE}/nsd-*/nsd.log")
        return 1
    total = time.monotonic() - t0
    print(f"lab up in {total:.1f} s (build {build_s:.1f} s): namespace {NS}, "
          f"{len(world.zones)} zones, {len(world.cases)} cases"
          + (f", bulk.lab with {bulk} domains (scripts/lab bulk-domains {bulk})" if bulk else "")
          + (f", WAN {wan}" if wan else ""))
    print(f"  resolver   {labworld.RESOLVER4}:53 and [{labworld.RESOLVER6}]:53 inside {NS} (Unbound, validating)")
    for role in labworld.NSD_ROLES:
        name, v4, v6 = labworld.SERVERS[role]
        print(f"  nsd-{role:<5}  {v4} {v6}  {name or 'a.nic.<tld>.'}")
    kinds = {}
    for e in labsmtp.load_plan(STATE):
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    print(f"  smtp       port {labsmtp.SMTP_PORT} on every MX address: "
          + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
          + f"  (scripts/lab hosts; logs {STATE}/postfix/maillog, {STATE}/smtp/)")
    for line in labwan.describe(STATE):
        print("  " + line)
    print(f"  state      {STATE}  (zones/, keys/, tls/, nsd-*/, unbound/, postfix/, smtp/, expect.jsonl, hosts.json)")
    print(f"  run        scripts/lab exec CMD...   e.g. scripts/lab exec dig mx1.dane-ee.lab TLSA")
    return 0


def cmd_down(args):
    with Lock():
        stop_servers()
        labwan.clear(STATE)
        if ns_exists():
            # whatever else still runs inside our namespace (e.g. test SMTP servers)
            p = sh(["ip", "netns", "pids", NS], check=False)
            for tok in p.stdout.decode().split():
                if tok.isdigit() and pid_in_ns(int(tok)):
                    kill_pid(int(tok))
            sh(["ip", "netns", "del", NS], check=False)
        if os.path.isdir(ETC_NETNS):
            try:
                os.unlink(os.path.join(ETC_NETNS, "resolv.conf"))
                os.rmdir(ETC_NETNS)
            except OSError as e:
                log(f"could not remove {ETC_NETNS}: {e}")
    if ns_exists():
        log(f"namespace {NS} still exists")
        return 1
    print(f"lab down: namespace {NS} gone")
    return 0


def cmd_status(args):
    quiet = "-q" in args or "--quiet" in args
    run_ = running() if ns_exists() else {}
    names = list(pidfiles())
    if not quiet:
        print(f"namespace {NS}: {'present' if ns_exists() else 'absent'}")
        for n in names:
            print(f"  {n:<10} {'running pid ' + str(run_[n]) if n in run_ else 'stopped'}")
    if len(run_) == len(names):
        ok, _ = dig_ok(2.0)
        if not quiet:
            print(f"  resolver   {'answers with AD' if ok else 'NOT answering'}")
            for line in labwan.describe(STATE):
                print("  " + line)
            pct, dropped, hook = labwan.get_loss(NS)
            if pct:
                print(f"  loss       {pct:g}% of all packets dropped (nftables, {hook} hook; {dropped} so far)")
        return 0 if ok else 1
    return 3 if not run_ else 1


def cmd_exec(args):
    if not args:
        log("usage: lab exec CMD [ARGS...]")
        return 2
    if not ns_exists():
        log(f"namespace {NS} absent: run scripts/lab up first")
        return 2
    os.execvp("ip", in_ns(args))


def cmd_expect(args):
    world = labworld.parse_world(CASES)
    for e in labworld.expectations(world):
        print(json.dumps(e))
    return 0


def cmd_domains(args):
    world = labworld.parse_world(CASES)
    for c in world.cases:
        print(c.domain)
    return 0


def cmd_bulk_domains(args):
    for d in labworld.bulk_domains(int(args[0]) if args else bulk_count([])):
        print(d)
    return 0


def cmd_bulk_expect(args):
    for e in labworld.bulk_expectations(int(args[0]) if args else bulk_count([])):
        print(json.dumps(e))
    return 0


def cmd_hosts(args):
    world = labworld.parse_world(CASES)
    print(json.dumps(hosts_info(world), indent=1))
    return 0


def cmd_build(args):
    world = labworld.parse_world(CASES)
    labworld.add_bulk(world, bulk_count(args))
    with Lock():
        s = do_build(world, wan_spec(args))
    print(f"built in {s:.1f} s under {STATE}")
    return 0


def cmd_loss(args):
    """lab loss PCT [--at-send]: drop PCT% of every packet in the namespace
    (--at-send: on the output hook, where the sender gets EPERM); no PCT: show."""
    if not ns_exists():
        log(f"namespace {NS} absent: run scripts/lab up first")
        return 2
    hook = "output" if "--at-send" in args else "input"
    args = [a for a in args if a != "--at-send"]
    if not args:
        pct, dropped, shown = labwan.get_loss(NS)
        print(f"{pct:g}% of all packets dropped ({dropped} so far" + (f", {shown} hook)" if shown else ")"))
        return 0
    try:
        pct = float(args[0])
        if not 0 <= pct <= 100:
            raise ValueError
    except ValueError:
        log(f"loss: a percentage 0-100, not {args[0]!r}")
        return 2
    labwan.set_loss(NS, pct, hook)
    print(f"lab loss: {pct:g}% of all packets in {NS} dropped ({hook} hook)" if pct else f"lab loss: off in {NS}")
    return 0


def cmd_verify(args):
    import labverify
    world = labworld.parse_world(CASES)
    # At WAN latency or with packet loss Unbound drops a query it has not
    # answered within 1.9 s (discard-timeout) and caches the answer when it
    # comes: a lost or slow answer is asked for again, as the scanner does.
    slow = os.path.isdir(labwan.wan_dir(STATE)) or labwan.get_loss(NS)[0] > 0
    return labverify.main(world, NS, args, retries=4 if slow else 0)


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "exec": cmd_exec,
            "expect": cmd_expect, "domains": cmd_domains, "hosts": cmd_hosts,
            "build": cmd_build, "verify": cmd_verify, "loss": cmd_loss,
            "bulk-domains": cmd_bulk_domains, "bulk-expect": cmd_bulk_expect}


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] in ("up", "down", "build", "exec", "verify", "loss") and os.geteuid() != 0:
        log("needs root (network namespaces)")
        return 2
    try:
        return COMMANDS[argv[1]](argv[2:])
    except (labworld.CasesError, RuntimeError) as e:
        log(str(e))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
