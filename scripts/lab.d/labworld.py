"""The lab world: parses tests/lab/cases.txt and generates zones, keys,
certificates and server configurations in the state directory.

Nothing here starts a process that keeps running or touches a network
namespace; lab.py does that. Everything here is deterministic given the
cases file and the keys already in the state directory.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

# ---------------------------------------------------------------------------
# Fixed addresses of the lab (all on lo inside the namespace).

SERVERS = {
    # role: (name server host name or None for per-TLD, IPv4, IPv6)
    "root": ("a.root-servers.lab.", "127.53.0.1", "fd53::1"),
    "tld": (None, "127.53.0.2", "fd53::2"),      # a.nic.<tld>.
    "leaf": ("ns1.hosting.lab.", "127.53.0.3", "fd53::3"),
    "lame": ("ns.lame.lab.", "127.53.0.4", "fd53::4"),
    # Addresses only, no NSD: a test starts tests/dnsfault/dnsfault.py on
    # them (slow: forwards to the leaf NSD, which serves the zone, after a
    # delay; dead: drops every query). Without it, queries there are refused
    # by the kernel (port unreachable).
    "slow": ("ns.slow.lab.", "127.53.0.5", "fd53::5"),
    "dead": ("ns.dead.lab.", "127.53.0.6", "fd53::6"),
}
NSD_ROLES = ("root", "tld", "leaf", "lame")   # one NSD each; lame serves nothing
PROXY_ROLES = ("slow", "dead")                 # see SERVERS
RESOLVER4 = "127.0.0.1"
RESOLVER6 = "::1"
MX_ADDR_BASE4 = "127.53"        # auto addresses: 127.53.<1+i//250>.<1+i%250>
MX_ADDR_BASE6 = "fd53::1:"      # auto addresses: fd53::1:<hex i+1>

SIGNINGS = ("nsec", "nsec3", "nsec3-optout", "unsigned")
BREAKS = ("wrong-ds", "expired", "no-ds")
DOMAIN_STATUSES = (
    "invalid-name", "lookup-failed", "dnssec-bogus", "nxdomain", "null-mx",
    "no-mail", "insecure", "dane-failed", "dane-unreachable", "dane-valid",
    "dane-partial", "tlsa-unusable", "no-dane", "dane-unprobed")
HOST_STATUSES = (
    "dane-valid", "dane-failed", "dane-unreachable", "tlsa-unusable",
    "tlsa-failed", "no-tlsa", "insecure", "address-failed", "no-address",
    "dane-unprobed")
DNSSEC_STATES = ("secure", "insecure", "bogus", "failed")
# ../shared/spec/MTA-STS.md (issue 18)
MTA_STS_STATUSES = ("none", "record-invalid", "policy-unavailable", "policy-invalid", "mode-none",
                    "mx-mismatch", "cert-invalid", "valid")
TLSRPT_STATUSES = ("none", "invalid", "valid")
# [policy HOST]: what the lab's HTTPS policy server (tests/labsmtp/sts_https_server.py) does
POLICY_SERVES = ("ok", "chunked", "close", "redirect", "temp-redirect", "notfound", "server-error", "html",
                 "notype", "oversize", "oversizechunked", "endless", "drip", "hugeheaders", "garbage", "short",
                 "exact")
POLICY_CERTS = ("ca", "self", "expired", "wrongname")
# Per-host flags (docs/output.md). The first eight are decided by DNS and
# checked by `scripts/lab verify`; the last two need probes.
DNS_HOST_FLAGS = ("nxdomain", "target-is-tld", "target-is-localhost", "ancestor-nxdomain",
                  "tlsa-at-original-name", "tlsa-insecure", "a-lookup-failed",
                  "aaaa-lookup-failed")
HOST_FLAGS = DNS_HOST_FLAGS + ("partial-algorithm-coverage", "expires-soon")
TLS_ALGS = ("rsa", "ecdsa")
# Per-address probe results (RESULTS.md "Per address").
PROBE_RESULTS = ("authenticated", "tlsa-mismatch", "name-mismatch", "cert-expired",
                 "no-starttls", "starttls-refused", "tls-failed", "smtp-failed",
                 "connect-failed", "timeout", "unauthenticated-tls", "skipped")
# Host statuses that mean "this host was probed" under --probe dane.
PROBED_HOST_STATUSES = ("dane-valid", "dane-failed", "dane-unreachable", "tlsa-unusable")
ROLLOVERS = ("current+next", "current+issuer", "issuer", "single", "none", "unmatched")
# Rollover hazard flags (issue 19; docs/output.md), asserted with probe.hazards.
HAZARD_FLAGS = ("ee-selector-0", "ta-public-intermediate", "single-key", "leaf-expires-soon",
                "rrsig-expires-soon")
# DNSSEC hygiene findings per zone (issue 19; docs/output.md), asserted with hygiene.
ZONE_FLAGS = ("alg-must-not", "alg-not-recommended", "ds-sha1", "ds-digest-must-not", "nsec3-salt",
              "nsec3-iterations", "nsec3-insecure-iterations", "rrsig-expires-soon")
# Mail servers the lab can put behind an MX address ([host] smtp = ...).
SMTP_KINDS = ("postfix", "sink", "labsmtp", "closed")
# Certificate variants a server can present (TlsMaterial.variant).
CERT_VARIANTS = ("ca", "self", "leaf", "expired", "wrongname", "soon", "pubint")


class CasesError(Exception):
    pass


def fqdn(name, origin="."):
    """Absolute lower-case name with trailing dot; '@' is the origin."""
    name = name.strip().lower()
    if name == "@":
        return origin
    if name.endswith("."):
        return name
    if origin == ".":
        return name + "."
    return name + "." + origin


def bare(name):
    """Name without trailing dot, lower case ('.' stays '.')."""
    name = name.lower()
    return name if name == "." else name.rstrip(".")


def is_subdomain(name, parent):
    return parent == "." or name == parent or name.endswith("." + parent)


def zone_file_stem(zone):
    return "root" if zone == "." else zone.rstrip(".")


# ---------------------------------------------------------------------------
# Parsing the cases file.

class Section:
    def __init__(self, kind, name, lineno):
        self.kind = kind
        self.name = name
        self.lineno = lineno
        self.fields = {}          # key -> list of value lines

    def get(self, key, default=None):
        values = self.fields.get(key)
        if not values:
            return default
        return " ".join(values).strip()

    def lines(self, key):
        return [v for v in self.fields.get(key, []) if v.strip()]


def _strip_comment(line):
    if line.lstrip().startswith("#"):
        return ""
    m = re.search(r"\s#", line)
    return line[:m.start()] if m else line


def parse_sections(text, path="cases"):
    sections = []
    current = None
    last_key = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).rstrip()
        if not line.strip():
            continue
        m = re.match(r"^\[(\w+)\s+([^\]\s]+)\s*\]$", line)
        if m:
            current = Section(m.group(1).lower(), m.group(2), lineno)
            sections.append(current)
            last_key = None
            continue
        if current is None:
            raise CasesError(f"{path}:{lineno}: text before the first [section]")
        if line[0] in " \t":
            if last_key is None:
                raise CasesError(f"{path}:{lineno}: continuation line without a key")
            current.fields[last_key].append(line.strip())
            continue
        m = re.match(r"^([A-Za-z][\w.-]*)\s*=\s*(.*)$", line)
        if not m:
            raise CasesError(f"{path}:{lineno}: expected 'key = value': {line.strip()}")
        last_key = m.group(1).lower()
        values = current.fields.setdefault(last_key, [])
        if m.group(2).strip():
            values.append(m.group(2).strip())
    return sections


ZONE_KEYS = {"signing", "server", "break", "strip-rrsig", "records", "resolver", "sig-days",
             "zone-note", "algorithm", "ds-digest", "nsec3-params"}
# DNSSEC hygiene (issue 19): zone keys algorithm = NAME [BITS] (ldns-keygen -a/-b),
# ds-digest = 1|2|4 ... (ldns-key2ds per type, into the parent), nsec3-params = ITERATIONS SALT|- .
KEY_ALGORITHMS = ("RSASHA1", "RSASHA1-NSEC3-SHA1", "RSASHA256", "RSASHA512", "ECDSAP256SHA256",
                  "ECDSAP384SHA384", "ED25519", "ED448")
CASE_KEYS = {"status", "mx_dnssec", "hosts", "flags", "check", "note",
             "probe.status", "probe.hosts", "probe.addresses", "probe.flags", "probe.rollover",
             "probe.hazards", "hygiene", "hygiene.keys", "hygiene.ds", "hygiene.denial",
             "dig", "mta_sts.status", "tlsrpt.status"}
HOST_KEYS = {"certs", "issuer", "smtp", "note"}
POLICY_KEYS = {"address", "cert", "serve", "policy", "note"}


class Record:
    def __init__(self, owner, ttl, rtype, rdata, lineno):
        self.owner = owner
        self.ttl = ttl
        self.rtype = rtype
        self.rdata = rdata
        self.lineno = lineno


class Zone:
    def __init__(self, name, lineno=0):
        self.name = name          # fqdn
        self.signing = "nsec"
        self.server = "leaf"
        self.breaks = set()
        self.strip = []           # (owner fqdn, TYPE)
        self.sig_days = None      # signatures expire this many days after signing (ldns-signzone -e)
        self.algorithm = None     # (ldns-keygen algorithm, bits or None); None: ECDSAP256SHA256
        self.ds_digests = None    # DS digest types in the parent; None: (2,)
        self.nsec3_params = None  # (iterations, salt hex or "-") for nsec3 signing; None: (0, "-")
        self.records = []
        self.resolver = []        # raw unbound.conf lines
        self.lineno = lineno
        self.parent = None
        self.children = []
        self.bulk = 0             # >0: the generated benchmark zone (see add_bulk)

    @property
    def signed(self):
        return self.signing != "unsigned"

    @property
    def served(self):
        return self.server not in ("lame", "dead")

    @property
    def nsd_role(self):
        """The NSD that holds the zone's data (a slow zone's is the leaf)."""
        return "leaf" if self.server == "slow" else self.server

    def server_name(self):
        if self.server == "tld":
            return "a.nic." + self.name
        return SERVERS[self.server][0]


class Case:
    def __init__(self, domain, lineno):
        self.domain = domain      # as written (bare, lower case)
        self.lineno = lineno
        self.status = None
        self.mx_dnssec = None
        self.hosts = {}           # host -> status (ordered)
        self.flags = {}           # host -> [flag]
        self.checks = []          # (text, lineno)
        self.note = ""
        self.probe_status = None
        self.probe_hosts = {}
        self.probe_addresses = {}  # "host" | "host@4" | "host@6" -> probe result
        self.probe_flags = {}      # host -> [flag]
        self.probe_rollover = {}   # host -> rollover word
        self.mta_sts_status = None  # MTA-STS.md mta_sts.status (scan --mta-sts), None: not stated
        self.tlsrpt_status = None   # MTA-STS.md tlsrpt_record.status
        self.probe_hazards = {}    # host -> [hazard flag] (exactly these; [] for "none")
        # DNSSEC hygiene under `scan --dnssec-hygiene all` (issue 19), per zone that matters:
        self.hygiene = {}          # zone -> [zone flag] (exactly these zones and flags; [] for "none")
        self.hygiene_keys = {}     # zone -> ["ALG/BITS", ...] (the DNSKEYs, in any order)
        self.hygiene_ds = {}       # zone -> [digest type, ...]
        self.hygiene_denial = {}   # zone -> "nsec" | "nsec3/ITERATIONS/SALT-LENGTH"


class HostDecl:
    def __init__(self, name):
        self.name = name
        self.certs = list(TLS_ALGS)
        self.issuer = "ca"
        self.smtp = []            # raw lines
        self.smtp_specs = []      # SmtpSpec, parsed
        self.note = ""


class PolicyDecl:
    """[policy mta-sts.DOMAIN]: an HTTPS policy host of the lab (RFC 8461
    3.3) served by tests/labsmtp/sts_https_server.py on port 443 of
    `address` (127.54.0.0/24; the zone needs the matching A record):
    `cert` ca (issued by the lab CA, which is the lab's WebPKI: pass
    tls/ca.crt as --ca-file) | self | expired | wrongname; `serve` the
    server's behaviour (POLICY_SERVES); `policy` the body lines (joined
    with CRLF; default: enforce with mx: mx.DOMAIN)."""

    def __init__(self, name, lineno):
        self.name = name
        self.lineno = lineno
        self.address = None
        self.cert = "ca"
        self.serve = "ok"
        self.policy = None
        self.note = ""


class SmtpSpec:
    """One `smtp =` line of a [host]: [@4|@6] KIND [key=value ...] [-- RAW ARGS].

    KIND postfix: real Postfix smtpd; options certs=ALG[:VARIANT],... (default:
      every key the host has, CA-issued chain), keys-of=HOST (present another
      host's keys: a TLSA mismatch), starttls=no (smtpd_tls_security_level=none).
    KIND sink: Postfix smtp-sink (no STARTTLS); raw smtp-sink options after
      '--', e.g. `sink -- -f CONNECT` (554 greeting), `sink -- -Q CONNECT` (421).
    KIND labsmtp: danescan-labsmtp; mode=MODE (normal, silent, tls-alert,
      starttls-454, garbage, ...), certs=..., keys-of=... as for postfix.
    KIND closed: nothing listens (connection refused)."""

    def __init__(self, family, kind, opts, raw):
        self.family = family      # None (every address), 4 or 6
        self.kind = kind
        self.opts = opts
        self.raw = raw

    def to_json(self):
        return {"family": self.family, "kind": self.kind, "opts": dict(self.opts), "raw": list(self.raw)}


def parse_smtp_line(line, where):
    import shlex
    try:
        toks = shlex.split(line)
    except ValueError as e:
        raise CasesError(f"{where}: smtp: {e}: {line}")
    family = None
    if toks and toks[0] in ("@4", "@6"):
        family = int(toks[0][1])
        toks = toks[1:]
    if not toks or toks[0] not in SMTP_KINDS:
        raise CasesError(f"{where}: smtp: want [@4|@6] {'|'.join(SMTP_KINDS)} ...: {line}")
    kind, rest = toks[0], toks[1:]
    raw = []
    if "--" in rest:
        i = rest.index("--")
        rest, raw = rest[:i], rest[i + 1:]
    opts = {}
    for t in rest:
        if "=" not in t:
            raise CasesError(f"{where}: smtp: expected key=value, got {t!r}")
        k, v = t.split("=", 1)
        if k not in ("certs", "keys-of", "starttls", "mode"):
            raise CasesError(f"{where}: smtp: unknown option {k!r}")
        opts[k] = v
    for item in (opts.get("certs") or "").split(","):
        if not item:
            continue
        alg, _, variant = item.partition(":")
        if alg not in TLS_ALGS or (variant and variant not in CERT_VARIANTS):
            raise CasesError(f"{where}: smtp: certs item {item!r}: want ALG[:VARIANT], "
                             f"ALG in {TLS_ALGS}, VARIANT in {CERT_VARIANTS}")
    if kind == "labsmtp" and "mode" not in opts:
        raise CasesError(f"{where}: smtp: labsmtp needs mode=MODE")
    if raw and kind != "sink":
        raise CasesError(f"{where}: smtp: raw arguments only for sink")
    return SmtpSpec(family, kind, opts, raw)


class World:
    def __init__(self):
        self.zones = {}           # fqdn -> Zone
        self.cases = []
        self.hostdecls = {}
        self.policies = {}        # host (bare) -> PolicyDecl
        self.addresses = {}       # host (bare) -> {"ipv4": .., "ipv6": ..}
        self._addr_index = {}

    # Addresses handed out for 'A auto' / 'AAAA auto', by owner, in file order.
    def auto_address(self, owner, family):
        host = bare(owner)
        if host not in self._addr_index:
            self._addr_index[host] = len(self._addr_index)
        i = self._addr_index[host]
        entry = self.addresses.setdefault(host, {})
        if family == 4:
            entry["ipv4"] = f"{MX_ADDR_BASE4}.{1 + i // 250}.{1 + i % 250}"
            return entry["ipv4"]
        entry["ipv6"] = f"{MX_ADDR_BASE6}{i + 1:x}"
        return entry["ipv6"]

    def zone_of(self, name):
        """Closest enclosing zone of a name (fqdn)."""
        best = None
        for z in self.zones:
            if is_subdomain(name, z) and (best is None or len(z) > len(best)):
                best = z
        return self.zones.get(best) if best else None


def _parse_hostmap(values, what, path, lineno, allowed):
    out = {}
    for v in values:
        for item in v.replace(",", " ").split():
            if "=" not in item:
                raise CasesError(f"{path}:{lineno}: {what}: expected host=value, got {item}")
            host, val = item.split("=", 1)
            host = bare(host)
            if allowed is not None and val not in allowed:
                raise CasesError(f"{path}:{lineno}: {what}: unknown word {val!r}")
            out[host] = val
    return out


def _apply_zone_fields(world, zone, sec, path):
    sig = sec.get("signing")
    if sig:
        if sig not in SIGNINGS:
            raise CasesError(f"{path}:{sec.lineno}: signing must be one of {SIGNINGS}")
        zone.signing = sig
    server = sec.get("server")
    if server:
        if server not in ("root", "tld", "leaf", "lame", "slow", "dead"):
            raise CasesError(f"{path}:{sec.lineno}: server must be root|tld|leaf|lame|slow|dead")
        zone.server = server
    for b in (sec.get("break") or "").replace(",", " ").split():
        if b not in BREAKS:
            raise CasesError(f"{path}:{sec.lineno}: break must be among {BREAKS}")
        zone.breaks.add(b)
    for item in sec.lines("strip-rrsig"):
        for part in item.split(","):
            toks = part.split()
            if len(toks) != 2:
                raise CasesError(f"{path}:{sec.lineno}: strip-rrsig wants 'OWNER TYPE'")
            zone.strip.append((fqdn(toks[0], zone.name), toks[1].upper()))
    zone.resolver.extend(sec.lines("resolver"))
    sig_days = sec.get("sig-days")
    if sig_days is not None:
        if not sig_days.isdigit() or not 1 <= int(sig_days) <= 3650:
            raise CasesError(f"{path}:{sec.lineno}: sig-days wants a number of days from 1 to 3650")
        zone.sig_days = int(sig_days)
    algorithm = sec.get("algorithm")
    if algorithm is not None:
        toks = algorithm.split()
        if not toks or toks[0].upper() not in KEY_ALGORITHMS or len(toks) > 2 or \
                (len(toks) == 2 and not toks[1].isdigit()):
            raise CasesError(f"{path}:{sec.lineno}: algorithm wants one of {KEY_ALGORITHMS} and optional bits")
        zone.algorithm = (toks[0].upper(), int(toks[1]) if len(toks) == 2 else None)
    ds_digest = sec.get("ds-digest")
    if ds_digest is not None:
        types = ds_digest.replace(",", " ").split()
        if not types or any(t not in ("1", "2", "4") for t in types):
            raise CasesError(f"{path}:{sec.lineno}: ds-digest wants digest types among 1 2 4")
        zone.ds_digests = tuple(int(t) for t in types)
    nsec3_params = sec.get("nsec3-params")
    if nsec3_params is not None:
        toks = nsec3_params.split()
        if len(toks) != 2 or not toks[0].isdigit() or not re.fullmatch(r"-|[0-9a-fA-F]{2,510}", toks[1]) or \
                (toks[1] != "-" and len(toks[1]) % 2):
            raise CasesError(f"{path}:{sec.lineno}: nsec3-params wants ITERATIONS SALT-HEX|-")
        zone.nsec3_params = (int(toks[0]), toks[1].lower())
    for line in sec.lines("records"):
        toks = line.split(None, 2)
        if len(toks) < 3:
            raise CasesError(f"{path}:{sec.lineno}: record needs OWNER TYPE RDATA: {line}")
        owner = fqdn(toks[0], zone.name)
        rest = toks[1:]
        ttl = None
        if rest[0].isdigit():
            ttl = int(rest[0])
            more = rest[1].split(None, 1)
            if len(more) < 2:
                raise CasesError(f"{path}:{sec.lineno}: record needs OWNER [TTL] TYPE RDATA: {line}")
            rest = more
        rtype = rest[0].upper()
        rdata = rest[1].strip()
        if not is_subdomain(owner, zone.name):
            raise CasesError(f"{path}:{sec.lineno}: {owner} is outside zone {zone.name}")
        if rtype in ("A", "AAAA") and rdata == "auto":
            rdata = world.auto_address(owner, 4 if rtype == "A" else 6)
        zone.records.append(Record(owner, ttl, rtype, rdata, sec.lineno))


def parse_world(path):
    with open(path, encoding="utf-8") as f:
        sections = parse_sections(f.read(), path)
    world = World()
    for sec in sections:
        if sec.kind not in ("zone", "case", "host", "policy"):
            raise CasesError(f"{path}:{sec.lineno}: unknown section kind [{sec.kind}]")
        allowed = {"zone": ZONE_KEYS, "case": ZONE_KEYS | CASE_KEYS | {"zone"},
                   "host": HOST_KEYS, "policy": POLICY_KEYS}[sec.kind]
        for key in sec.fields:
            if key not in allowed:
                raise CasesError(f"{path}:{sec.lineno}: unknown key {key!r} in [{sec.kind}]")
        if sec.kind == "policy":
            pd = PolicyDecl(bare(sec.name), sec.lineno)
            pd.address = sec.get("address")
            if not pd.address or not pd.address.startswith("127.54.0."):
                raise CasesError(f"{path}:{sec.lineno}: [policy {sec.name}]: address must be in 127.54.0.0/24")
            pd.cert = sec.get("cert", "ca")
            if pd.cert not in POLICY_CERTS:
                raise CasesError(f"{path}:{sec.lineno}: cert {pd.cert!r} not in {POLICY_CERTS}")
            pd.serve = sec.get("serve", "ok")
            if pd.serve not in POLICY_SERVES:
                raise CasesError(f"{path}:{sec.lineno}: serve {pd.serve!r} not in {POLICY_SERVES}")
            lines = sec.lines("policy")
            pd.policy = "".join(line.strip() + "\r\n" for line in lines) if lines else None
            pd.note = sec.get("note", "")
            world.policies[pd.name] = pd
            continue
        if sec.kind == "host":
            h = HostDecl(bare(sec.name))
            if sec.get("certs"):
                h.certs = sec.get("certs").replace(",", " ").split()
                for a in h.certs:
                    if a not in TLS_ALGS:
                        raise CasesError(f"{path}:{sec.lineno}: certs: {a} not in {TLS_ALGS}")
            h.issuer = sec.get("issuer", "ca")
            h.smtp = sec.lines("smtp")
            h.smtp_specs = [parse_smtp_line(l, f"{path}:{sec.lineno}") for l in h.smtp]
            h.note = sec.get("note", "")
            world.hostdecls[h.name] = h
            continue
        has_zone = sec.kind == "zone" or any(k in sec.fields for k in ZONE_KEYS)
        if has_zone:
            zname = fqdn(sec.get("zone") or sec.name)
            if zname in world.zones:
                raise CasesError(f"{path}:{sec.lineno}: zone {zname} declared twice")
            zone = Zone(zname, sec.lineno)
            if zname == ".":
                zone.server = "root"
            _apply_zone_fields(world, zone, sec, path)
            world.zones[zname] = zone
        if sec.kind == "case":
            c = Case(bare(sec.name) if sec.name != "." else ".", sec.lineno)
            c.status = sec.get("status")
            if c.status not in DOMAIN_STATUSES:
                raise CasesError(f"{path}:{sec.lineno}: case {sec.name}: status {c.status!r} unknown")
            c.mx_dnssec = sec.get("mx_dnssec")
            if c.mx_dnssec is not None and c.mx_dnssec not in DNSSEC_STATES:
                raise CasesError(f"{path}:{sec.lineno}: mx_dnssec {c.mx_dnssec!r} unknown")
            c.hosts = _parse_hostmap(sec.lines("hosts"), "hosts", path, sec.lineno, HOST_STATUSES)
            for host, flags in _parse_hostmap(sec.lines("flags"), "flags", path, sec.lineno, None).items():
                fl = flags.split("+")
                for f in fl:
                    if f not in HOST_FLAGS:
                        raise CasesError(f"{path}:{sec.lineno}: flag {f!r} unknown")
                c.flags[host] = fl
            c.checks = [(t, sec.lineno) for t in sec.lines("check")]
            c.note = sec.get("note", "")
            c.probe_status = sec.get("probe.status")
            if c.probe_status is not None and c.probe_status not in DOMAIN_STATUSES:
                raise CasesError(f"{path}:{sec.lineno}: probe.status {c.probe_status!r} unknown")
            c.probe_hosts = _parse_hostmap(sec.lines("probe.hosts"), "probe.hosts", path,
                                           sec.lineno, HOST_STATUSES)
            c.probe_addresses = _parse_hostmap(sec.lines("probe.addresses"), "probe.addresses",
                                               path, sec.lineno, PROBE_RESULTS)
            for host, flags in _parse_hostmap(sec.lines("probe.flags"), "probe.flags", path,
                                              sec.lineno, None).items():
                fl = flags.split("+")
                for f in fl:
                    if f not in HOST_FLAGS:
                        raise CasesError(f"{path}:{sec.lineno}: probe.flags: flag {f!r} unknown")
                c.probe_flags[host] = fl
            c.probe_rollover = _parse_hostmap(sec.lines("probe.rollover"), "probe.rollover", path,
                                              sec.lineno, ROLLOVERS)
            c.mta_sts_status = sec.get("mta_sts.status")
            if c.mta_sts_status is not None and c.mta_sts_status not in MTA_STS_STATUSES:
                raise CasesError(f"{path}:{sec.lineno}: mta_sts.status {c.mta_sts_status!r} unknown")
            c.tlsrpt_status = sec.get("tlsrpt.status")
            if c.tlsrpt_status is not None and c.tlsrpt_status not in TLSRPT_STATUSES:
                raise CasesError(f"{path}:{sec.lineno}: tlsrpt.status {c.tlsrpt_status!r} unknown")
            for host, flags in _parse_hostmap(sec.lines("probe.hazards"), "probe.hazards", path,
                                              sec.lineno, None).items():
                fl = [] if flags == "none" else flags.split("+")
                for f in fl:
                    if f not in HAZARD_FLAGS:
                        raise CasesError(f"{path}:{sec.lineno}: probe.hazards: flag {f!r} unknown")
                c.probe_hazards[host] = fl
            for zone, flags in _parse_hostmap(sec.lines("hygiene"), "hygiene", path, sec.lineno, None).items():
                fl = [] if flags == "none" else flags.split("+")
                for f in fl:
                    if f not in ZONE_FLAGS:
                        raise CasesError(f"{path}:{sec.lineno}: hygiene: flag {f!r} unknown")
                c.hygiene[zone] = fl
            for zone, keys in _parse_hostmap(sec.lines("hygiene.keys"), "hygiene.keys", path, sec.lineno,
                                             None).items():
                if not re.fullmatch(r"\d+/\d+(\+\d+/\d+)*", keys):
                    raise CasesError(f"{path}:{sec.lineno}: hygiene.keys wants ZONE=ALG/BITS[+ALG/BITS...]")
                c.hygiene_keys[zone] = keys.split("+")
            for zone, ds in _parse_hostmap(sec.lines("hygiene.ds"), "hygiene.ds", path, sec.lineno, None).items():
                if not re.fullmatch(r"\d+(\+\d+)*", ds):
                    raise CasesError(f"{path}:{sec.lineno}: hygiene.ds wants ZONE=TYPE[+TYPE...]")
                c.hygiene_ds[zone] = [int(t) for t in ds.split("+")]
            for zone, denial in _parse_hostmap(sec.lines("hygiene.denial"), "hygiene.denial", path, sec.lineno,
                                               None).items():
                if not re.fullmatch(r"nsec|nsec3/\d+/\d+", denial):
                    raise CasesError(f"{path}:{sec.lineno}: hygiene.denial wants ZONE=nsec|nsec3/ITER/SALTLEN")
                c.hygiene_denial[zone] = denial
            for what, zones in (("hygiene.keys", c.hygiene_keys), ("hygiene.ds", c.hygiene_ds),
                                ("hygiene.denial", c.hygiene_denial)):
                for zone in zones:
                    if zone not in c.hygiene:
                        raise CasesError(f"{path}:{sec.lineno}: {what}: zone {zone} needs a hygiene entry")
            world.cases.append(c)
    if "." not in world.zones:
        raise CasesError(f"{path}: no [zone .] (the root)")
    # Tree: parent of each zone is the closest enclosing other zone.
    for name, zone in world.zones.items():
        if name == ".":
            continue
        best = None
        for other in world.zones:
            if other != name and is_subdomain(name, other) and (best is None or len(other) > len(best)):
                best = other
        zone.parent = world.zones[best]
        zone.parent.children.append(zone)
    return world


def host_addresses(world, host):
    """{4: [ip...], 6: [ip...]}: the addresses a validating client finds for
    an MX host name in the lab's zones (CNAMEs followed, records whose RRSIG
    is stripped left out: they are bogus)."""
    name = fqdn(host)
    for _ in range(8):
        z = world.zone_of(name)
        if z is None:
            break
        target = None
        for r in z.records:
            if r.owner == name and r.rtype == "CNAME":
                target = fqdn(r.rdata, z.name)
        if target is None:
            break
        name = target
    out = {4: [], 6: []}
    z = world.zone_of(name)
    if z is None or not z.served:
        return out
    for r in z.records:
        if r.owner == name and r.rtype in ("A", "AAAA") and (name, r.rtype) not in z.strip:
            out[4 if r.rtype == "A" else 6].append(r.rdata)
    return out


def probe_expectation(world, c, where="cases"):
    """The --probe dane expectations of a case: domain status, host
    statuses, per-address results ({host: {ip: result}}) and probe flags.
    Raises CasesError when a case leaves something undecided."""
    status = c.probe_status or c.status
    hosts = dict(c.hosts)
    hosts.update(c.probe_hosts)
    for h in c.probe_hosts:
        if h not in c.hosts:
            raise CasesError(f"{where}: case {c.domain}: probe.hosts names {h}, not in hosts")
    if status == "dane-unprobed":
        raise CasesError(f"{where}: case {c.domain}: status dane-unprobed needs a probe.status")
    addresses = {}
    declared = dict(c.probe_addresses)
    for h, st in hosts.items():
        if st == "dane-unprobed":
            raise CasesError(f"{where}: case {c.domain}: host {h} needs a probe.hosts status")
        if st not in PROBED_HOST_STATUSES:
            continue
        ips = host_addresses(world, h)
        per = {}
        for fam in (4, 6):
            for ip in ips[fam]:
                res = declared.get(f"{h}@{fam}", declared.get(h))
                if res is None:
                    raise CasesError(f"{where}: case {c.domain}: no probe.addresses result for {h} {ip}")
                per[ip] = res
        if not per:
            raise CasesError(f"{where}: case {c.domain}: probed host {h} has no lab address")
        addresses[h] = per
    for key in declared:
        if key.split("@")[0] not in addresses:
            raise CasesError(f"{where}: case {c.domain}: probe.addresses {key}: host not probed")
    return {"status": status, "hosts": hosts, "addresses": addresses,
            "flags": {h: list(f) for h, f in c.probe_flags.items()},
            "rollover": dict(c.probe_rollover),
            "hazards": {h: list(f) for h, f in c.probe_hazards.items()}}


def expectations(world):
    """One dict per case: the DNS-only (--probe none) expectations and, under
    "probe", those of --probe dane."""
    out = []
    for c in world.cases:
        e = {"domain": c.domain, "status": c.status, "mx_dnssec": c.mx_dnssec,
             "hosts": dict(c.hosts), "flags": {h: list(f) for h, f in c.flags.items()}}
        e["probe"] = probe_expectation(world, c)
        if c.mta_sts_status is not None:
            e["mta_sts"] = c.mta_sts_status
        if c.tlsrpt_status is not None:
            e["tlsrpt_record"] = c.tlsrpt_status
        if c.hygiene:
            e["hygiene"] = {z: {"flags": list(f), "keys": c.hygiene_keys.get(z), "ds": c.hygiene_ds.get(z),
                                "denial": c.hygiene_denial.get(z)} for z, f in c.hygiene.items()}
        if c.note:
            e["note"] = c.note
        out.append(e)
    return out


# ---------------------------------------------------------------------------
# Keys and certificates (kept across runs).

def run(cmd, cwd=None, input_bytes=None):
    p = subprocess.run(cmd, cwd=cwd, input=input_bytes, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): "
                           f"{p.stderr.decode(errors='replace').strip()}")
    return p.stdout


def dnssec_key(keydir, zone, label, algorithm=None):
    """Base path of the (single CSK) key 'label' of zone; generated once.
    algorithm: (ldns-keygen name, bits or None), None for ECDSAP256SHA256
    (another algorithm gets its own directory, so keys never mix)."""
    if algorithm is not None:
        label = f"{label}-{algorithm[0].lower()}" + (f"-{algorithm[1]}" if algorithm[1] else "")
    d = os.path.join(keydir, zone_file_stem(zone), label)
    os.makedirs(d, exist_ok=True)
    for f in sorted(os.listdir(d)):
        if f.endswith(".private"):
            return os.path.join(d, f[:-len(".private")])
    cmd = ["ldns-keygen", "-a", algorithm[0] if algorithm else "ECDSAP256SHA256", "-k"]
    if algorithm is not None and algorithm[1]:
        cmd += ["-b", str(algorithm[1])]
    base = run(cmd + [zone], cwd=d).decode().strip()
    return os.path.join(d, base)


def ds_record(keybase, digest=2):
    cache = keybase + (".ds256" if digest == 2 else f".ds{digest}")
    if os.path.exists(cache):
        with open(cache) as f:
            return f.read().strip()
    ds = run(["ldns-key2ds", "-n", f"-{digest}", keybase + ".key"]).decode().strip()
    with open(cache, "w") as f:
        f.write(ds + "\n")
    return ds


class TlsMaterial:
    """Lab CA and per-host keys/certs under <state>/tls (kept across runs).

    Files: tls/ca.key, tls/ca.crt; tls/<host>/<alg>.key, <alg>.crt (issued by
    the lab CA, SAN = host), <alg>.self.crt (self-signed), <alg>.chain.pem
    (leaf + CA)."""

    def __init__(self, tlsdir):
        self.dir = tlsdir
        os.makedirs(tlsdir, exist_ok=True)
        self.digests = {}
        self._digest_file = os.path.join(tlsdir, "digests.json")
        if os.path.exists(self._digest_file):
            with open(self._digest_file) as f:
                self.digests = json.load(f)

    def save(self):
        with open(self._digest_file + ".tmp", "w") as f:
            json.dump(self.digests, f, indent=1, sort_keys=True)
        os.replace(self._digest_file + ".tmp", self._digest_file)

    def ca(self):
        key = os.path.join(self.dir, "ca.key")
        crt = os.path.join(self.dir, "ca.crt")
        if not (os.path.exists(key) and os.path.exists(crt)):
            run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", key])
            run(["openssl", "req", "-x509", "-new", "-key", key, "-out", crt,
                 "-days", "3650", "-subj", "/O=danescan lab/CN=danescan lab CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return key, crt

    def public_ca(self):
        """The lab's "public" CA (issue 19): a root (tls/pub-root.crt, what
        a scan gets with --ca-file to stand for the WebPKI store) and an
        intermediate it issued (tls/pub-int.crt) that issues the `pubint`
        leaves. Returns (intermediate key, intermediate cert, root cert)."""
        root_key = os.path.join(self.dir, "pub-root.key")
        root_crt = os.path.join(self.dir, "pub-root.crt")
        int_key = os.path.join(self.dir, "pub-int.key")
        int_crt = os.path.join(self.dir, "pub-int.crt")
        if not (os.path.exists(root_key) and os.path.exists(root_crt)):
            run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", root_key])
            run(["openssl", "req", "-x509", "-new", "-key", root_key, "-out", root_crt,
                 "-days", "3650", "-subj", "/O=danescan lab public/CN=danescan lab public root",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            if os.path.exists(int_crt):
                os.unlink(int_crt)
        if not (os.path.exists(int_key) and os.path.exists(int_crt)):
            if not os.path.exists(int_key):
                run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", int_key])
            run(["openssl", "req", "-x509", "-new", "-key", int_key, "-out", int_crt,
                 "-CA", root_crt, "-CAkey", root_key, "-days", "3000",
                 "-subj", "/O=danescan lab public/CN=danescan lab public intermediate",
                 "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return int_key, int_crt, root_crt

    def host(self, host, alg):
        if alg not in TLS_ALGS:
            raise CasesError(f"unknown TLS key algorithm {alg!r} for {host}")
        d = os.path.join(self.dir, host)
        os.makedirs(d, exist_ok=True)
        key = os.path.join(d, f"{alg}.key")
        crt = os.path.join(d, f"{alg}.crt")
        self_crt = os.path.join(d, f"{alg}.self.crt")
        chain = os.path.join(d, f"{alg}.chain.pem")
        if not os.path.exists(key):
            if alg == "rsa":
                run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                     "rsa_keygen_bits:2048", "-out", key + ".tmp"])
            else:
                run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", key + ".tmp"])
            os.replace(key + ".tmp", key)
            for f in (crt, self_crt, chain):
                if os.path.exists(f):
                    os.unlink(f)
        if not os.path.exists(crt) or not os.path.exists(chain):
            ca_key, ca_crt = self.ca()
            run(["openssl", "req", "-x509", "-new", "-key", key, "-out", crt,
                 "-CA", ca_crt, "-CAkey", ca_key, "-days", "825",
                 "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
                 "-addext", "basicConstraints=critical,CA:FALSE",
                 "-addext", "extendedKeyUsage=serverAuth"])
            with open(chain, "w") as out:
                for f in (crt, ca_crt):
                    with open(f) as inp:
                        out.write(inp.read())
        if not os.path.exists(self_crt):
            run(["openssl", "req", "-x509", "-new", "-key", key, "-out", self_crt,
                 "-days", "825", "-subj", f"/CN={host}",
                 "-addext", f"subjectAltName=DNS:{host}"])
        return key, crt

    def variant(self, host, alg, variant="ca"):
        """(key file, certificate chain file) a server of host presents:
        ca = leaf issued by the lab CA + the CA cert; self = self-signed;
        leaf = the CA-issued leaf alone; expired = CA-issued, valid
        2020-01-01..2021-01-01 (+ CA); wrongname = CA-issued for
        wrong-name.example only (+ CA). Same key in every variant."""
        key, crt = self.host(host, alg)
        d = os.path.join(self.dir, host)
        if variant == "ca":
            return key, os.path.join(d, f"{alg}.chain.pem")
        if variant == "self":
            return key, os.path.join(d, f"{alg}.self.crt")
        if variant == "leaf":
            return key, crt
        chain = os.path.join(d, f"{alg}.{variant}.chain.pem")
        fresh = os.path.exists(chain) and os.stat(chain).st_mtime >= os.stat(key).st_mtime
        if variant == "soon":
            # valid for 5 days from its making: remade when a day old, so
            # it always expires within the scanner's default 14 warn days
            # and never before the scan
            fresh = fresh and time.time() - os.stat(chain).st_mtime < 86400
        if variant == "pubint" and fresh:
            # a chain copied from DANESCAN_LAB_KEY_CACHE may hold another
            # lab's intermediate: remade unless it holds this lab's
            _, int_crt, _ = self.public_ca()
            with open(int_crt) as f_int, open(chain) as f_chain:
                fresh = f_int.read() in f_chain.read()
        if fresh:
            return key, chain
        if variant in ("soon", "pubint"):
            if variant == "soon":
                ca_key, ca_crt = self.ca()
                days = "5"
            else:
                ca_key, ca_crt, _ = self.public_ca()
                days = "825"
            out = os.path.join(d, f"{alg}.{variant}.crt")
            run(["openssl", "req", "-x509", "-new", "-key", key, "-out", out,
                 "-CA", ca_crt, "-CAkey", ca_key, "-days", days,
                 "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
                 "-addext", "basicConstraints=critical,CA:FALSE",
                 "-addext", "extendedKeyUsage=serverAuth"])
            with open(chain + ".tmp", "w") as o:
                for f in (out, ca_crt):
                    with open(f) as inp:
                        o.write(inp.read())
            os.replace(chain + ".tmp", chain)
            return key, chain
        if variant == "expired":
            name, start, end = host, "20200101000000Z", "20210101000000Z"
        elif variant == "wrongname":
            name, start, end = "wrong-name.example", None, None
        else:
            raise CasesError(f"unknown certificate variant {variant!r}")
        ca_key, ca_crt = self.ca()
        db = os.path.join(self.dir, "ca-db")
        os.makedirs(db, exist_ok=True)
        with open(os.path.join(db, "index.txt"), "w"):
            pass
        serial = os.path.join(db, "serial")
        if not os.path.exists(serial):
            with open(serial, "w") as f:
                f.write("1000\n")
        cnf = os.path.join(db, "ca.cnf")
        with open(cnf, "w") as f:
            f.write(f"""[ ca ]\ndefault_ca = lab\n[ lab ]\ndir = {db}\ndatabase = {db}/index.txt
new_certs_dir = {db}\nserial = {serial}\ndefault_md = sha256\npolicy = any
copy_extensions = copy\nunique_subject = no\ndefault_days = 825\n[ any ]\ncommonName = supplied
[ leaf ]\nbasicConstraints = critical,CA:false\nextendedKeyUsage = serverAuth
""")
        csr = os.path.join(d, f"{alg}.{variant}.csr")
        out = os.path.join(d, f"{alg}.{variant}.crt")
        run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", f"/CN={name}",
             "-addext", f"subjectAltName=DNS:{name}"])
        cmd = ["openssl", "ca", "-batch", "-config", cnf, "-cert", ca_crt, "-keyfile", ca_key,
               "-extensions", "leaf", "-notext", "-in", csr, "-out", out]
        if start:
            cmd += ["-startdate", start, "-enddate", end]
        run(cmd)
        with open(chain + ".tmp", "w") as o:
            for f in (out, ca_crt):
                with open(f) as inp:
                    o.write(inp.read())
        os.replace(chain + ".tmp", chain)
        return key, chain

    def _der(self, kind, path):
        if kind == "spki":
            return run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"])
        return run(["openssl", "x509", "-in", path, "-outform", "DER"])

    def digest(self, kind, hashname, path):
        """hex digest ('full' = hex of the DER itself) of the SPKI of a key
        file or of a certificate, cached by file path and mtime."""
        st = os.stat(path)
        tag = f"{path}|{int(st.st_mtime_ns)}|{kind}"
        if tag not in self.digests:
            der = self._der(kind, path)
            self.digests[tag] = {"full": der.hex(),
                                 "sha256": hashlib.sha256(der).hexdigest(),
                                 "sha512": hashlib.sha512(der).hexdigest()}
        return self.digests[tag][hashname]


PLACEHOLDER = re.compile(r"\{([a-z0-9-]+)(?::([^}]*))?\}")


def substitute(text, tls, world, where):
    """Fills {spki-sha256:HOST:ALG}, {cert-sha256:HOST:ALG[:self]},
    {spki-sha512:..}, {cert-sha512:..}, {spki-full:..}, {cert-full:..},
    {ca-spki-sha256}, {ca-cert-sha256} (and -sha512/-full), {ip4:HOST},
    {ip6:HOST}."""
    def one(m):
        kind, arg = m.group(1), m.group(2)
        m2 = re.match(r"^(ca-|pubint-)?(spki|cert)-(sha256|sha512|full)$", kind)
        if m2:
            ca, what, h = m2.groups()
            if ca:
                if ca == "pubint-":
                    ca_key, ca_crt, _ = tls.public_ca()
                else:
                    ca_key, ca_crt = tls.ca()
                return tls.digest(what, h, ca_key if what == "spki" else ca_crt)
            parts = (arg or "").split(":")
            if len(parts) not in (2, 3):
                raise CasesError(f"{where}: {m.group(0)}: want HOST:ALG[:self]")
            host, alg = bare(parts[0]), parts[1]
            key, crt = tls.host(host, alg)
            if len(parts) == 3 and parts[2] == "self":
                crt = os.path.join(tls.dir, host, f"{alg}.self.crt")
            return tls.digest(what, h, key if what == "spki" else crt)
        if kind in ("ip4", "ip6"):
            entry = world.addresses.get(bare(arg or ""), {})
            addr = entry.get("ipv4" if kind == "ip4" else "ipv6")
            if not addr:
                raise CasesError(f"{where}: {m.group(0)}: no auto address for that host")
            return addr
        raise CasesError(f"{where}: unknown placeholder {m.group(0)}")
    return PLACEHOLDER.sub(one, text)


# ---------------------------------------------------------------------------
# Building zone files.

def _rr(owner, rtype, rdata, ttl=None):
    return f"{owner}\t{ttl if ttl is not None else 3600}\tIN\t{rtype}\t{rdata}"


def _server_rrs(zone):
    """Addresses of the name servers, published in the zone that holds them."""
    out = []
    used = {z.server for z in zone.world.zones.values()}
    roles = ("root", "leaf", "lame") + tuple(r for r in PROXY_ROLES if r in used)
    names = [(SERVERS[r][0], SERVERS[r][1], SERVERS[r][2]) for r in roles]
    for name, v4, v6 in names:
        if zone.world.zone_of(name) is zone:
            out.append(_rr(name, "A", v4))
            out.append(_rr(name, "AAAA", v6))
    if zone.server == "tld":
        out.append(_rr("a.nic." + zone.name, "A", SERVERS["tld"][1]))
        out.append(_rr("a.nic." + zone.name, "AAAA", SERVERS["tld"][2]))
    return out


def zone_text(world, zone, keys, tls, cases_path):
    lines = [f"; generated by scripts/lab from {os.path.basename(cases_path)} -- do not edit",
             f"$ORIGIN {zone.name}", "$TTL 3600",
             _rr(zone.name, "SOA", f"{zone.server_name()} hostmaster.{zone.name if zone.name != '.' else 'lab.'} "
                 "1 3600 600 86400 60"),
             _rr(zone.name, "NS", zone.server_name())]
    if zone.name == ".":
        v4, v6 = SERVERS["root"][1], SERVERS["root"][2]
        lines.append(_rr(SERVERS["root"][0], "A", v4))
        lines.append(_rr(SERVERS["root"][0], "AAAA", v6))
    lines.extend(_server_rrs(zone))
    for child in zone.children:
        ns = child.server_name()
        lines.append(_rr(child.name, "NS", ns))
        if child.server == "tld":
            lines.append(_rr(ns, "A", SERVERS["tld"][1]))
            lines.append(_rr(ns, "AAAA", SERVERS["tld"][2]))
        if child.signed and zone.signed and "no-ds" not in child.breaks:
            label = "decoy" if "wrong-ds" in child.breaks else "csk"
            for digest in child.ds_digests or (2,):
                lines.append(ds_record(keys[(child.name, label)], digest))
    for r in zone.records:
        rdata = substitute(r.rdata, tls, world, f"{cases_path}:{r.lineno}")
        lines.append(_rr(r.owner, r.rtype, rdata, r.ttl))
    return "\n".join(lines) + "\n"


def strip_rrsigs(path, strip):
    want = {(o, t) for o, t in strip}
    kept, removed = [], 0
    with open(path) as f:
        for line in f:
            toks = line.split()
            if len(toks) >= 5 and toks[3] == "RRSIG" and (toks[0].lower(), toks[4].upper()) in want:
                removed += 1
                continue
            kept.append(line)
    with open(path, "w") as f:
        f.writelines(kept)
    return removed


def sign_zone(zone, src, dst, keybase):
    cmd = ["ldns-signzone", "-o", zone.name, "-f", dst]
    if zone.signing.startswith("nsec3"):
        iterations, salt = zone.nsec3_params or (0, "-")
        cmd += ["-n", "-t", str(iterations)] + (["-s", salt] if salt != "-" else [])
        if zone.signing == "nsec3-optout":
            cmd.append("-p")
    if "expired" in zone.breaks:
        cmd += ["-i", "20200101000000", "-e", "20200201000000"]
    elif zone.sig_days:
        # short-lived signatures (rrsig-expires-soon): re-made at every `up`
        expires = time.gmtime(time.time() + zone.sig_days * 86400)
        cmd += ["-e", time.strftime("%Y%m%d%H%M%S", expires)]
    cmd += [src, keybase]
    run(cmd)
    if zone.strip:
        n = strip_rrsigs(dst, zone.strip)
        if n == 0:
            raise CasesError(f"zone {zone.name}: strip-rrsig matched no RRSIG {zone.strip}")


def build(world, cases_path, state):
    """Generates keys, certs, zones, NSD and Unbound configs under state.
    Returns a dict describing what was built."""
    for z in world.zones.values():
        z.world = world
    keydir = os.path.join(state, "keys")
    zonedir = os.path.join(state, "zones")
    if os.path.isdir(zonedir):
        shutil.rmtree(zonedir)
    os.makedirs(zonedir)
    tls = TlsMaterial(os.path.join(state, "tls"))
    tls.public_ca()  # tls/pub-root.crt: the --ca-file of probe scans (issue 19)
    keys = {}
    for z in world.zones.values():
        if z.signed:
            keys[(z.name, "csk")] = dnssec_key(keydir, z.name, "csk", z.algorithm)
            if "wrong-ds" in z.breaks:
                keys[(z.name, "decoy")] = dnssec_key(keydir, z.name, "decoy")
    # TLS material for declared hosts (placeholders create theirs on demand).
    for h in world.hostdecls.values():
        for alg in h.certs:
            tls.host(h.name, alg)
    jobs = []
    for z in world.zones.values():
        if not z.served or z.bulk:
            continue
        stem = zone_file_stem(z.name)
        src = os.path.join(zonedir, stem + ".zone")
        with open(src, "w") as f:
            f.write(zone_text(world, z, keys, tls, cases_path))
        if z.signed:
            jobs.append((z, src, src + ".signed", keys[(z.name, "csk")]))
    tls.save()
    with ThreadPoolExecutor(max_workers=4) as ex:
        for fut in [ex.submit(sign_zone, *j) for j in jobs]:
            fut.result()
    for z in world.zones.values():
        if z.bulk:
            build_bulk(world, z, keys[(z.name, "csk")], tls, state, cases_path)
    served = {}
    for z in world.zones.values():
        if z.bulk:
            served.setdefault(z.server, []).append(
                (z.name, os.path.join(state, "bulk", zone_file_stem(z.name) + ".zone.signed")))
        elif z.served:
            stem = zone_file_stem(z.name)
            served.setdefault(z.nsd_role, []).append(
                (z.name, os.path.join(zonedir, stem + (".zone.signed" if z.signed else ".zone"))))
    root_ds = ds_record(keys[(".", "csk")]) if world.zones["."].signed else None
    return {"served": served, "root_ds": root_ds, "tls": tls}


def nsd_conf(role, rundir, zones, port=53):
    """port: 53, or the WAN mode's back-end port (labwan.py: a fault proxy
    holds port 53 of the address)."""
    name, v4, v6 = SERVERS[role][0] or "a.nic.<tld>", SERVERS[role][1], SERVERS[role][2]
    lines = [
        f"# NSD for the lab's {role} servers ({name}), generated by scripts/lab",
        "server:",
        f"  ip-address: {v4}",
        f"  ip-address: {v6}",
        f"  port: {port}",
        "  server-count: 1",
        "  username: \"\"",
        "  chroot: \"\"",
        f"  zonesdir: \"{rundir}\"",
        "  database: \"\"",
        f"  zonelistfile: \"{rundir}/zone.list\"",
        f"  xfrdfile: \"{rundir}/xfrd.state\"",
        f"  xfrdir: \"{rundir}\"",
        f"  pidfile: \"{rundir}/nsd.pid\"",
        f"  logfile: \"{rundir}/nsd.log\"",
        "  verbosity: 1",
        "  hide-version: yes",
        "  refuse-any: yes",
        "  tcp-count: 256",
        "  receive-buffer-size: 4194304",
        "  send-buffer-size: 4194304",
        "  rrl-ratelimit: 0",
        "  rrl-whitelist-ratelimit: 0",
        "remote-control:",
        "  control-enable: no",
    ]
    for zname, path in zones:
        lines += ["zone:", f"  name: \"{zname}\"", f"  zonefile: \"{path}\""]
    return "\n".join(lines) + "\n"


def unbound_conf(rundir, world, control_socket, extra=()):
    """extra: more server: lines (DANESCAN_LAB_UNBOUND, e.g. to try
    another setting in the WAN mode)."""
    resolver_lines = []
    for z in world.zones.values():
        resolver_lines.extend(z.resolver)
    lines = [
        "# Unbound for the lab, generated by scripts/lab",
        "server:",
        "  verbosity: 1",
        f"  interface: {RESOLVER4}",
        f"  interface: {RESOLVER6}",
        "  port: 53",
        "  do-ip4: yes",
        "  do-ip6: yes",
        "  do-udp: yes",
        "  do-tcp: yes",
        "  access-control: 127.0.0.0/8 allow",
        "  access-control: ::1/128 allow",
        "  access-control: fd53::/16 allow",
        "  username: \"\"",
        "  chroot: \"\"",
        f"  directory: \"{rundir}\"",
        f"  pidfile: \"{rundir}/unbound.pid\"",
        f"  logfile: \"{rundir}/unbound.log\"",
        "  use-syslog: no",
        "  log-servfail: yes",
        "  val-log-level: 2",
        "  do-not-query-localhost: no",
        f"  root-hints: \"{rundir}/root.hints\"",
        f"  trust-anchor-file: \"{rundir}/root.anchor\"",
        "  module-config: \"validator iterator\"",
        "  ede: yes",
        "  qname-minimisation: yes",
        "  harden-dnssec-stripped: yes",
        "  val-permissive-mode: no",
        "  serve-expired: no",
        "  prefetch: no",
        "  # sized for a 200k-domain benchmark on 2 cores",
        "  num-threads: 2",
        "  so-reuseport: yes",
        "  msg-cache-size: 256m",
        "  msg-cache-slabs: 2",
        "  rrset-cache-size: 512m",
        "  rrset-cache-slabs: 2",
        "  key-cache-size: 64m",
        "  key-cache-slabs: 2",
        "  infra-cache-slabs: 2",
        "  infra-cache-numhosts: 100000",
        "  neg-cache-size: 32m",
        "  num-queries-per-thread: 4096",
        "  # TCP clients at once, per thread (default 10): more answers retried",
        "  # over TCP after TC=1 than that waited for a slot and timed out",
        "  incoming-num-tcp: 512",
        "  so-rcvbuf: 8m",
        "  so-sndbuf: 8m",
        "  outgoing-range: 8192",
        "  ratelimit: 0",
        "  ip-ratelimit: 0",
        "  unwanted-reply-threshold: 0",
        "  # RFC 6761 default local zone 'test.' would hide the lab's test. TLD",
        "  local-zone: \"test.\" nodefault",
        "  # simulations declared in the cases file (resolver = ...)",
    ]
    lines += ["  " + l for l in resolver_lines]
    if extra:
        lines += ["  # DANESCAN_LAB_UNBOUND"] + ["  " + l for l in extra]
    if control_socket:
        lines += ["remote-control:", "  control-enable: yes",
                  f"  control-interface: \"{control_socket}\"", "  control-use-cert: no"]
    else:
        lines += ["remote-control:", "  control-enable: no"]
    return "\n".join(lines) + "\n"


def root_hints():
    name, v4, v6 = SERVERS["root"]
    return (f".\t3600000\tIN\tNS\t{name}\n{name}\t3600000\tIN\tA\t{v4}\n"
            f"{name}\t3600000\tIN\tAAAA\t{v6}\n")


def lab_addresses(world):
    """Addresses to put on lo: name servers and every auto MX address."""
    v4 = [SERVERS[r][1] for r in NSD_ROLES + PROXY_ROLES]
    v6 = [SERVERS[r][2] for r in NSD_ROLES + PROXY_ROLES]
    for entry in world.addresses.values():
        if "ipv4" in entry:
            v4.append(entry["ipv4"])
        if "ipv6" in entry:
            v6.append(entry["ipv6"])
    return v4, v6


# ---------------------------------------------------------------------------
# The optional benchmark zone: N domains d<i>.bulk.lab in one NSEC3 zone
# (scripts/lab up --bulk N). Kept apart from the cases: not verified one by
# one, cached signed in <state>/bulk/ and re-signed only when N, the key or
# the template change, or after 7 days (signatures last 4 weeks).

BULK_ZONE = "bulk.lab."
BULK_HOSTS = 50
# The realistic mix (issue 2 benchmark): most domains are unsigned, in the
# unsigned zone ubulk.lab (delegated from lab. without DS), and name MX
# hosts shared by many domains; ~1% have TLSA. Kind by i % 100:
BULK_UZONE = "ubulk.lab."
BULK_UHOSTS = 1000              # shared unsigned MX hosts mx<j>.ubulk.lab
BULK_MIX = ((1, "dane"), (10, "no-tlsa"), (2, "unsigned-mx"), (1, "null-mx"),
            (2, "nxdomain"), (24, "u-shared2"), (40, "u-shared"), (10, "u-provider"),
            (5, "u-nxdomain"), (5, "u-self"))
_BULK_KINDS = tuple(k for n, k in BULK_MIX for _ in range(n))
assert len(_BULK_KINDS) == 100


def add_bulk(world, n):
    if n <= 0:
        return
    for name in (BULK_ZONE, BULK_UZONE):
        if name in world.zones:
            raise CasesError(f"{name} is reserved for --bulk")
    z = Zone(BULK_ZONE)
    z.signing = "nsec3"
    z.bulk = n
    z.parent = world.zones["lab."]
    z.parent.children.append(z)
    world.zones[BULK_ZONE] = z
    for j in range(BULK_HOSTS):
        world.auto_address(f"mx{j}.{BULK_ZONE}", 4)
        world.auto_address(f"mx{j}.{BULK_ZONE}", 6)
        world.auto_address(f"plain{j}.{BULK_ZONE}", 4)
    # The unsigned part is an ordinary unsigned zone (built like a case zone);
    # its hosts get fixed 127.54/16 addresses, not put on lo (DNS-only).
    u = Zone(BULK_UZONE)
    u.signing = "unsigned"
    u.parent = world.zones["lab."]
    u.parent.children.append(u)
    world.zones[BULK_UZONE] = u
    rec = u.records
    for j in range(BULK_UHOSTS):
        rec.append(Record(f"mx{j}.{BULK_UZONE}", None, "A",
                          f"127.54.{j // 250}.{1 + j % 250}", 0))
    for i in range(n):
        k = bulk_kind(i)
        d = f"d{i}.{BULK_UZONE}"
        if k == "u-shared":
            rec.append(Record(d, None, "MX", f"10 mx{i % BULK_UHOSTS}.{BULK_UZONE}", 0))
        elif k == "u-shared2":
            rec.append(Record(d, None, "MX", f"10 mx{i % BULK_UHOSTS}.{BULK_UZONE}", 0))
            rec.append(Record(d, None, "MX", f"20 mx{(i + 1) % BULK_UHOSTS}.{BULK_UZONE}", 0))
        elif k == "u-provider":
            rec.append(Record(d, None, "MX", "10 mx.unsigned-provider.test.", 0))
        elif k == "u-self":
            rec.append(Record(d, None, "MX", f"10 mail.{d}", 0))
            rec.append(Record(f"mail.{d}", None, "A",
                              f"127.55.{(i >> 16) & 255}.{(i >> 8) & 255}", 0))


def bulk_kind(i):
    """What domain i of the benchmark is, by i % 100 (see BULK_MIX)."""
    return _BULK_KINDS[i % 100]


def bulk_domain(i):
    zone = BULK_UZONE if bulk_kind(i).startswith("u-") else BULK_ZONE
    return f"d{i}.{zone}".rstrip(".")


def bulk_domains(n):
    return [bulk_domain(i) for i in range(n)]


def bulk_expectations(n):
    out = []
    for i in range(n):
        d = bulk_domain(i)
        k = bulk_kind(i)
        u = BULK_UZONE.rstrip(".")
        e = {"domain": d, "mx_dnssec": "insecure" if k.startswith("u-") else "secure",
             "hosts": {}, "flags": {}}
        if k == "dane":
            e.update(status="dane-unprobed", hosts={f"mx{i % BULK_HOSTS}.bulk.lab": "dane-unprobed"})
        elif k == "unsigned-mx":
            e.update(status="no-dane", hosts={"mx.unsigned-provider.test": "insecure"})
        elif k == "null-mx":
            e.update(status="null-mx")
        elif k in ("nxdomain", "u-nxdomain"):
            e.update(status="nxdomain")
        elif k == "no-tlsa":
            e.update(status="no-dane", hosts={f"plain{i % BULK_HOSTS}.bulk.lab": "no-tlsa"})
        elif k == "u-shared":
            e.update(status="insecure", hosts={f"mx{i % BULK_UHOSTS}.{u}": "insecure"})
        elif k == "u-shared2":
            e.update(status="insecure", hosts={f"mx{i % BULK_UHOSTS}.{u}": "insecure",
                                               f"mx{(i + 1) % BULK_UHOSTS}.{u}": "insecure"})
        elif k == "u-provider":
            e.update(status="insecure", hosts={"mx.unsigned-provider.test": "insecure"})
        else:  # u-self
            e.update(status="insecure", hosts={f"mail.{d}": "insecure"})
        out.append(e)
    return out


def build_bulk(world, zone, keybase, tls, state, cases_path):
    spki = tls.digest("spki", "sha256", tls.host("mx.bulk.lab", "ecdsa")[0])
    lines = [f"; generated by scripts/lab --bulk {zone.bulk} -- do not edit",
             f"$ORIGIN {zone.name}", "$TTL 3600",
             f"@ SOA {zone.server_name()} hostmaster.{zone.name} 1 3600 600 86400 60",
             f"@ NS {zone.server_name()}"]
    for j in range(BULK_HOSTS):
        a = world.addresses[f"mx{j}.bulk.lab"]
        lines += [f"mx{j} A {a['ipv4']}", f"mx{j} AAAA {a['ipv6']}",
                  f"_25._tcp.mx{j} TLSA 3 1 1 {spki}",
                  f"plain{j} A {world.addresses[f'plain{j}.bulk.lab']['ipv4']}"]
    for i in range(zone.bulk):
        k = bulk_kind(i)
        if k == "dane":
            lines.append(f"d{i} MX 10 mx{i % BULK_HOSTS}")
        elif k == "unsigned-mx":
            lines.append(f"d{i} MX 10 mx.unsigned-provider.test.")
        elif k == "null-mx":
            lines.append(f"d{i} MX 0 .")
        elif k == "no-tlsa":
            lines.append(f"d{i} MX 10 plain{i % BULK_HOSTS}")
    text = "\n".join(lines) + "\n"
    bdir = os.path.join(state, "bulk")
    os.makedirs(bdir, exist_ok=True)
    src = os.path.join(bdir, zone_file_stem(zone.name) + ".zone")
    dst = src + ".signed"
    tag = hashlib.sha256((text + keybase).encode()).hexdigest()
    tagfile = dst + ".tag"
    fresh = False
    if os.path.exists(dst) and os.path.exists(tagfile):
        with open(tagfile) as f:
            fresh = f.read().strip() == tag
        import time
        fresh = fresh and time.time() - os.stat(dst).st_mtime < 7 * 86400
    if fresh:
        return
    with open(src, "w") as f:
        f.write(text)
    sign_zone(zone, src, dst, keybase)
    with open(tagfile, "w") as f:
        f.write(tag + "\n")
