"""Checks the lab world with dig against the lab resolver: for every case,
an independent DNS-only classification (RESULTS.md rules, --probe none)
from dig answers must equal the case's declared expectations, every bogus
answer must carry an RFC 8914 EDE, every failed one must stay SERVFAIL with
CD=1, and the case's explicit `check` lines must hold.

This is the lab's own oracle, written from RESULTS.md independently of the
scanner; it proves the lab (zones, breakage, expectations) is right. It is
not the scanner.
"""

import os
import re
import subprocess
import sys

import labworld

DNSSEC_EDE = set(range(1, 13))   # RFC 8914 codes 1..12 are DNSSEC failures


class Answer:
    def __init__(self, name, rtype, cd):
        self.name, self.rtype, self.cd = name, rtype, cd
        self.rcode = None          # "NOERROR", ... or None when no reply
        self.flags = set()
        self.ede = []              # [(code, text)]
        self.rrs = []              # [(owner, type, rdata)]
        self.raw = ""

    @property
    def ad(self):
        return "ad" in self.flags

    def of_type(self, rtype):
        return [r for r in self.rrs if r[1] == rtype]

    def short(self):
        e = ",".join(str(c) for c, _ in self.ede)
        return (f"{self.name} {self.rtype}{' +cd' if self.cd else ''}: {self.rcode}"
                f"{' ad' if self.ad else ''}{' ede=' + e if e else ''} answer={len(self.rrs)}")


class Resolver:
    def __init__(self, ns, server=labworld.RESOLVER4, retries=0):
        self.server = server
        self.retries = retries  # more dig runs after one that got no answer
        self.prefix = [] if self._inside(ns) else ["ip", "netns", "exec", ns]
        self.cache = {}
        self.queries = 0

    @staticmethod
    def _inside(ns):
        try:
            return os.stat(f"/run/netns/{ns}").st_ino == os.stat("/proc/self/ns/net").st_ino
        except OSError:
            return False

    def query(self, name, rtype, cd=False):
        key = (name.lower(), rtype, cd)
        if key in self.cache:
            return self.cache[key]
        a = Answer(name, rtype, cd)
        cmd = self.prefix + ["dig", "@" + self.server, "+dnssec", "+time=5", "+tries=1",
                             "+nocookie", "+noall", "+comments", "+answer", name, rtype]
        if cd:
            cmd.append("+cd")
        for _ in range(1 + self.retries):
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.queries += 1
            if b"->>HEADER<<-" in p.stdout:
                break
        a.raw = p.stdout.decode(errors="replace")
        for line in a.raw.splitlines():
            m = re.search(r"->>HEADER<<- opcode: \w+, status: (\w+)", line)
            if m:
                a.rcode = m.group(1)
                continue
            m = re.match(r";; flags:([^;]*);", line)
            if m:
                a.flags = set(m.group(1).split())
                continue
            m = re.match(r"; EDE: (\d+)(?: \(([^)]*)\))?(?:: (.*))?", line)
            if m:
                a.ede.append((int(m.group(1)), (m.group(3) or m.group(2) or "").strip()))
                continue
            if line.startswith(";") or not line.strip():
                continue
            toks = line.split(None, 4)
            if len(toks) >= 4:
                a.rrs.append((toks[0].lower(), toks[3].upper(), toks[4] if len(toks) > 4 else ""))
        self.cache[key] = a
        return a

    def state(self, a):
        """DNSSEC state of a lookup per RESULTS.md; for SERVFAIL repeats with CD=1."""
        if a.rcode in ("NOERROR", "NXDOMAIN"):
            return "secure" if a.ad else "insecure"
        if a.rcode == "SERVFAIL":
            if any(code in DNSSEC_EDE for code, _ in a.ede):
                return "bogus"
            cd = self.query(a.name, a.rtype, cd=True)
            if cd.rcode in ("NOERROR", "NXDOMAIN"):
                return "bogus"
        return "failed"


WORST = {"secure": 0, "insecure": 1, "bogus": 2, "failed": 3}


def valid_name(name):
    if not name or len(name.rstrip(".")) > 253:
        return False
    for label in name.rstrip(".").split("."):
        if not label or len(label) > 63:
            return False
        if not re.match(r"^[a-z0-9_]([a-z0-9-]*[a-z0-9])?$", label, re.I):
            return False
    return True


def tlsa_usable(rdata):
    toks = rdata.split(None, 3)
    if len(toks) < 4:
        return False
    try:
        usage, selector, mtype = int(toks[0]), int(toks[1]), int(toks[2])
    except ValueError:
        return False
    data = re.sub(r"\s+", "", toks[3])
    if usage not in (2, 3) or selector not in (0, 1):
        return False
    want = {0: None, 1: 64, 2: 128}.get(mtype, -1)
    if want == -1:
        return False
    if want is None:
        return full_data_decodes(selector, data)
    return len(data) == want


def full_data_decodes(selector, hexdata):
    """Full data (matching type 0) is usable when it is a whole DER
    certificate (selector 0) or SubjectPublicKeyInfo (selector 1): what
    OpenSSL's SSL_dane_tlsa_add accepts. Checked apart from danescan, with
    the openssl command: the object must decode and re-encode to the very
    same bytes (so nothing trails it)."""
    try:
        der = bytes.fromhex(hexdata)
    except ValueError:
        return False
    if not der:
        return False
    cmd = (["openssl", "x509", "-inform", "DER", "-outform", "DER"] if selector == 0 else
           ["openssl", "pkey", "-pubin", "-inform", "DER", "-outform", "DER"])
    p = subprocess.run(cmd, input=der, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return p.returncode == 0 and p.stdout == der


class Observation:
    def __init__(self, domain):
        self.domain = domain
        self.status = None
        self.mx_dnssec = None
        self.hosts = {}
        self.flags = {}
        self.problems = []      # lab defects seen on the way (missing EDE ...)
        self.trace = []


def lookup(res, obs, name, rtype):
    a = res.query(name, rtype)
    st = res.state(a)
    obs.trace.append(a.short() + f" -> {st}")
    if st == "bogus" and not a.ede:
        obs.problems.append(f"{name} {rtype}: bogus without EDE (ede: yes expected)")
    if st == "failed" and a.rcode == "SERVFAIL":
        cd = res.query(name, rtype, cd=True)
        if cd.rcode != "SERVFAIL":
            obs.problems.append(f"{name} {rtype}: failed but CD=1 gave {cd.rcode}")
    return a, st


def name_flags(host):
    name = labworld.bare(host)
    if "." not in name:
        return ["target-is-localhost"] if name == "localhost" else ["target-is-tld"]
    return ["target-is-localhost"] if name.endswith(".localhost") else []


def classify_host(res, obs, host):
    """Host status (DNS-only) and DNS flags of one MX host name (fqdn)."""
    flags = name_flags(host)
    a4, s4 = lookup(res, obs, host, "A")
    a6, s6 = lookup(res, obs, host, "AAAA")
    ok4 = s4 in ("secure", "insecure")
    ok6 = s6 in ("secure", "insecure")
    if a4.rcode == "NXDOMAIN" and a6.rcode == "NXDOMAIN":
        flags.append("nxdomain")
    # A failed/bogus family makes the host unusable only when the other
    # family gives nothing usable either (it is flagged otherwise).
    if not ok4 and not ok6:
        return "address-failed", flags
    addrs = (a4.of_type("A") if ok4 else []) + (a6.of_type("AAAA") if ok6 else [])
    if not ok4:
        flags.append("a-lookup-failed")
    if not ok6:
        flags.append("aaaa-lookup-failed")
    if not addrs:
        return ("no-address" if ok4 and ok6 else "address-failed"), flags
    states = [s for s, ok in ((s4, ok4), (s6, ok6)) if ok]
    if any(s != "secure" for s in states):
        return "insecure", flags
    # CNAME chain (secure: the address answers were AD): TLSA at the final
    # target first, then at the original name (RFC 7672 2.2.3).
    target = host
    cnames = {o: r.lower() for o, t, r in a4.rrs + a6.rrs if t == "CNAME"}
    seen = set()
    while target in cnames and target not in seen:
        seen.add(target)
        target = cnames[target]
    bases = [target] if target == host else [target, host]
    tlsa, st, base = None, None, None
    for i, b in enumerate(bases):
        tlsa, st = lookup(res, obs, "_25._tcp." + b, "TLSA")
        base = b
        if st in ("bogus", "failed"):
            return "tlsa-failed", flags
        if tlsa.of_type("TLSA") or st != "secure":
            if i == 1 and tlsa.of_type("TLSA"):
                flags.append("tlsa-at-original-name")
            break
    records = tlsa.of_type("TLSA")
    if st != "secure":
        flags.append("tlsa-insecure")
        return "no-tlsa", flags
    if not records:
        return "no-tlsa", flags
    anc = res.query("_tcp." + base, "TLSA")
    obs.trace.append(anc.short())
    if anc.rcode == "NXDOMAIN":
        flags.append("ancestor-nxdomain")
    if any(tlsa_usable(r[2]) for r in records):
        return "dane-unprobed", flags
    return "tlsa-unusable", flags


def classify(res, domain):
    obs = Observation(domain)
    if not valid_name(domain):
        obs.status = "invalid-name"
        return obs
    name = domain.rstrip(".") + "."
    mx, st = lookup(res, obs, name, "MX")
    obs.mx_dnssec = st
    if st == "failed":
        obs.status = "lookup-failed"
        return obs
    if st == "bogus":
        obs.status = "dnssec-bogus"
        return obs
    if mx.rcode == "NXDOMAIN":
        obs.status = "nxdomain"
        return obs
    records = []
    for owner, t, rdata in mx.of_type("MX"):
        pref, target = rdata.split()
        records.append((int(pref), target.lower()))
    records.sort()
    if len(records) == 1 and records[0][1] == ".":
        obs.status = "null-mx"
        return obs
    if not records:
        a4, s4 = lookup(res, obs, name, "A")
        a6, s6 = lookup(res, obs, name, "AAAA")
        if not a4.of_type("A") and not a6.of_type("AAAA") and \
                s4 in ("secure", "insecure") and s6 in ("secure", "insecure"):
            obs.status = "no-mail"
            obs.hosts[labworld.bare(name)] = "no-address"   # the implicit MX host
            return obs
        hosts = [name]
    else:
        hosts = []
        for _, t in records:
            if t not in hosts and t != ".":
                hosts.append(t)
    for h in hosts:
        status, flags = classify_host(res, obs, h)
        obs.hosts[labworld.bare(h)] = status
        if flags:
            obs.flags[labworld.bare(h)] = flags
    hs = list(obs.hosts.values())
    with_tlsa = {"dane-unprobed", "tlsa-unusable", "dane-valid", "dane-failed",
                 "dane-unreachable"}
    if st == "insecure" and not any(h in with_tlsa for h in hs):
        obs.status = "insecure"
    elif any(h in ("dane-failed", "tlsa-failed") for h in hs):
        obs.status = "dane-failed"
    elif any(h == "dane-unprobed" for h in hs):
        obs.status = "dane-unprobed"
    elif any(h == "tlsa-unusable" for h in hs):
        obs.status = "tlsa-unusable"
    else:
        obs.status = "no-dane"
    return obs


CHECK = re.compile(r"^(\S+)\s+([A-Za-z0-9]+)(\s+\+cd)?\s*=>\s*(\w+)(.*)$")


def run_check(res, text, zone_origin):
    """One `check` line: NAME TYPE [+cd] => RCODE [ad|!ad] [ede|ede=N|!ede]
    [answer=TYPE,..] [noanswer] [count=N] [has=TEXT]. Returns None or the
    reason it failed."""
    m = CHECK.match(text)
    if not m:
        return f"cannot parse check: {text}"
    name, rtype, cd, rcode, rest = m.groups()
    name = labworld.fqdn(name, zone_origin)
    a = res.query(name, rtype.upper(), cd=bool(cd))
    why = []
    if a.rcode != rcode.upper():
        why.append(f"rcode {a.rcode}, want {rcode.upper()}")
    for word in rest.split():
        if word == "ad" and not a.ad:
            why.append("no AD")
        elif word == "!ad" and a.ad:
            why.append("AD set")
        elif word == "ede" and not a.ede:
            why.append("no EDE")
        elif word == "!ede" and a.ede:
            why.append(f"EDE {a.ede}")
        elif word.startswith("ede="):
            want = {int(x) for x in word[4:].split(",")}
            if not want & {c for c, _ in a.ede}:
                why.append(f"EDE {a.ede}, want one of {sorted(want)}")
        elif word.startswith("answer="):
            for t in word[7:].upper().split(","):
                if not a.of_type(t):
                    why.append(f"no {t} in answer")
        elif word == "noanswer" and a.rrs:
            why.append(f"answer not empty: {a.rrs[:2]}")
        elif word.startswith("count="):
            n = len(a.of_type(rtype.upper()))
            if n != int(word[6:]):
                why.append(f"{n} {rtype} records, want {word[6:]}")
        elif word.startswith("has="):
            if not any(word[4:].lower() in r[2].lower() for r in a.rrs):
                why.append(f"no answer rdata contains {word[4:]}")
        elif word not in ("ad", "!ad", "ede", "!ede", "noanswer"):
            why.append(f"unknown check word {word}")
    return None if not why else f"{text}: {'; '.join(why)}  [{a.short()}]"


def main(world, ns, args, retries=0):
    verbose = "-v" in args
    only = [a for a in args if not a.startswith("-")]
    if not os.path.exists(f"/run/netns/{ns}"):
        print(f"lab verify: namespace {ns} absent: run scripts/lab up", file=sys.stderr)
        return 2
    res = Resolver(ns, retries=retries)
    passed = failed = 0
    for c in world.cases:
        if only and c.domain not in only:
            continue
        obs = classify(res, c.domain)
        why = []
        if obs.status != c.status:
            why.append(f"status {obs.status}, want {c.status}")
        if c.mx_dnssec is not None and obs.mx_dnssec != c.mx_dnssec:
            why.append(f"mx_dnssec {obs.mx_dnssec}, want {c.mx_dnssec}")
        if obs.hosts != c.hosts:
            why.append(f"hosts {obs.hosts}, want {c.hosts}")
        want_flags = {h: sorted(f for f in fl if f in labworld.DNS_HOST_FLAGS)
                      for h, fl in c.flags.items()}
        want_flags = {h: fl for h, fl in want_flags.items() if fl}
        got_flags = {h: sorted(fl) for h, fl in obs.flags.items() if fl}
        if want_flags != got_flags:
            why.append(f"flags {got_flags}, want {want_flags}")
        why.extend(obs.problems)
        origin = labworld.fqdn(c.domain) if c.status != "invalid-name" else "."
        for text, _ in c.checks:
            r = run_check(res, text, origin)
            if r:
                why.append("check " + r)
        if why:
            failed += 1
            print(f"FAIL {c.domain} (cases line {c.lineno})")
            for w in why:
                print(f"     {w}")
            for t in obs.trace:
                print(f"       . {t}")
        else:
            passed += 1
            print(f"ok   {c.domain}: {c.status}" + (f" {obs.hosts}" if verbose else ""))
            if verbose:
                for t in obs.trace:
                    print(f"       . {t}")
    if not only and world.policies:
        import labsts
        state = os.path.join(os.environ.get("DANESCAN_STATE") or os.path.join(
            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".state"), "lab")
        ok, problems = labsts.verify(ns, state, world)
        passed += ok
        failed += len(problems)
        for p in problems:
            print(f"FAIL {p}")
        print(f"lab verify: {ok} policy hosts answered as their [policy] section says (curl)")
    total = passed + failed
    print(f"lab verify: {res.queries} dig queries; "
          + (f"all {total} cases right" if not failed else f"{failed} of {total} cases WRONG"))
    return 0 if failed == 0 else 1
