"""WAN mode of the lab (issue 15): the resolver-to-authority path gets
Internet-like latency and loss, the scanner-to-resolver path stays clean.

`scripts/lab up --wan PROFILE` (or DANESCAN_LAB_WAN=PROFILE) moves every NSD
to port WAN_BACKEND_PORT of its own address and puts one
tests/dnsfault/dnsfault.py proxy on port 53 of each name server address (v4
and v6), forwarding to that NSD. Unbound finds the servers where it always
did (root hints, glue), so every query it sends to an authority crosses a
proxy, and nothing else does: the scanner talks to Unbound on 127.0.0.1:53
directly. The proxy holds each reply for a delay drawn per reply from the
server's range (jitter, so replies also come back out of order) and drops
the profile's fraction of the exchanges, half as lost queries, half as lost
replies, UDP and TCP alike.

Why a proxy per server and not nftables: this kernel has no netem, and
nftables can drop but not delay; a user-space proxy does both, per server,
with a seeded generator and counts of what it did (<state>/wan/*.json).
Its limit is its CPU: one Python process per address, ~10k packets/s each.

Profiles (delay ranges per server in DELAYS_MS, so the servers differ as
real ones do):
  delay    delay only
  loss1    delay + 1% of exchanges lost
  loss10   delay + 10% of exchanges lost
Overrides after the profile, comma-separated: ROLE=MIN-MAX (that server's
delay in ms, e.g. leaf=1500-2500 for a slow one), ROLE=dead (drops every
query). Roles: root tld leaf lame slow dead. The `slow` address (ns.slow.lab)
forwards to the leaf NSD after SLOW_MS, `dead` (ns.dead.lab) never answers:
zones with `server = slow|dead` work in WAN mode without a test's proxy.
The lame NSD (ns.lame.lab) refuses, as always.

All-packets loss (for probes): `scripts/lab loss PCT` drops PCT% of every
packet in the namespace (nftables `numgen random` on the input hook: on
`lo` every packet crosses it once, and the sender does not notice),
`scripts/lab loss 0` removes the rule. `up` resets it to 0.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import time
import zlib

import labworld

WAN_BACKEND_PORT = 5300
PROFILES = {"delay": 0.0, "loss1": 0.01, "loss10": 0.10}
# Reply delay per server, ms (uniform in the range, per reply). Root and TLD
# servers are anycast and near; leaf hosting is anywhere.
DELAYS_MS = {"root": "20-40", "tld": "40-120", "leaf": "80-300", "lame": "150-250"}
SLOW_MS = "2500-3500"
ROLES = labworld.NSD_ROLES + labworld.PROXY_ROLES
LOSS_TABLE = "danescan_lab_loss"
HERE = os.path.dirname(os.path.abspath(__file__))
DNSFAULT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "dnsfault", "dnsfault.py")


def wan_dir(state):
    return os.path.join(state, "wan")


def parse(spec):
    """PROFILE[,ROLE=MIN-MAX|ROLE=dead]... -> {role: {"delay", "loss", "dead"}}.
    Raises labworld.CasesError."""
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items or items[0] not in PROFILES:
        raise labworld.CasesError(f"--wan: profile must be one of {', '.join(PROFILES)}: {spec!r}")
    loss = PROFILES[items[0]]
    out = {}
    for role in ROLES:
        out[role] = {"delay": DELAYS_MS.get(role, DELAYS_MS["leaf"]), "loss": loss,
                     "dead": role == "dead"}
    out["slow"]["delay"] = SLOW_MS
    for item in items[1:]:
        role, _, value = item.partition("=")
        if role not in out or not value:
            raise labworld.CasesError(f"--wan: ROLE=MIN-MAX or ROLE=dead, roles {' '.join(ROLES)}: {item!r}")
        if value == "dead":
            out[role]["dead"] = True
            continue
        try:
            lo, _, hi = value.partition("-")
            if float(lo) < 0 or (hi and float(hi) < float(lo)):
                raise ValueError
        except ValueError:
            raise labworld.CasesError(f"--wan: bad delay {value!r} (ms or MIN-MAX ms)")
        out[role]["delay"] = value
    return out


def proxies(spec):
    """[(name, listen, upstream, args)] for a parsed spec."""
    out = []
    for role, conf in spec.items():
        name, v4, v6 = labworld.SERVERS[role]
        # slow forwards to the leaf NSD (which holds its zones); dead to
        # nothing that answers (every query is dropped anyway).
        target = labworld.SERVERS["leaf" if role in labworld.PROXY_ROLES else role]
        args = ["--delay", conf["delay"]]
        if conf["dead"]:
            args += ["--drop-query", "1"]
        elif conf["loss"] > 0:
            args += ["--drop-query", str(conf["loss"] / 2), "--drop-reply", str(conf["loss"] / 2)]
        out.append((f"{role}-4", f"{v4}:53", f"{target[1]}:{WAN_BACKEND_PORT}", args))
        out.append((f"{role}-6", f"[{v6}]:53", f"[{target[2]}]:{WAN_BACKEND_PORT}", args))
    return out


def pidfiles(state):
    return {"wan-" + os.path.basename(p)[:-4]: p
            for p in sorted(glob.glob(os.path.join(wan_dir(state), "*.pid")))}


def clear(state):
    """Forgets the WAN set-up (after stop_servers killed the proxies)."""
    shutil.rmtree(wan_dir(state), ignore_errors=True)


def start(state, ns, spec_text):
    """Starts the proxies inside ns; waits until each listens. Raises RuntimeError."""
    d = wan_dir(state)
    clear(state)
    os.makedirs(d)
    spec = parse(spec_text)
    with open(os.path.join(d, "profile.json"), "w") as f:
        json.dump({"spec": spec_text, "servers": spec}, f, indent=1)
    for name, listen, upstream, args in proxies(spec):
        seed = zlib.crc32(name.encode())
        cmd = ["ip", "netns", "exec", ns, sys.executable, DNSFAULT, "--listen", listen,
               "--upstream", upstream, "--seed", str(seed),
               "--counts", os.path.join(d, name + ".json"),
               "--ready", os.path.join(d, name + ".pid")] + args
        with open(os.path.join(d, name + ".log"), "w") as logf:
            subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                             start_new_session=True)
    deadline = time.monotonic() + 10
    for name, *_ in proxies(spec):
        while not os.path.exists(os.path.join(d, name + ".pid")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"WAN proxy {name} did not start (see {d}/{name}.log)")
            time.sleep(0.05)


def describe(state):
    """One line per server of the running WAN set-up, or [] when off."""
    try:
        with open(os.path.join(wan_dir(state), "profile.json")) as f:
            prof = json.load(f)
    except (OSError, ValueError):
        return []
    lines = [f"wan        profile {prof['spec']}: resolver->authority replies delayed and lost"
             f" by tests/dnsfault/dnsfault.py (NSD on port {WAN_BACKEND_PORT})"]
    for role, c in prof["servers"].items():
        what = "drops every query" if c["dead"] else f"delay {c['delay']} ms, loss {c['loss'] * 100:g}%"
        counts = {}
        for fam in ("4", "6"):
            try:
                with open(os.path.join(wan_dir(state), f"{role}-{fam}.json")) as f:
                    for k, v in json.load(f).items():
                        counts[k] = counts.get(k, 0) + v
            except (OSError, ValueError):
                pass
        lines.append(f"  {role:<5} {what}; queries {counts.get('queries', 0)}, "
                     f"lost {counts.get('dropped_queries', 0) + counts.get('dropped_replies', 0)}")
    return lines


# ---- all-packets loss (nftables) -------------------------------------------
# The rule sits on the input hook: a packet dropped there is lost silently,
# as on the Internet. Dropped on the output hook, the sender's own
# sendto()/send() fails at once with EPERM (measured: 3 of 3 sends at 99.99%
# loss), which tells a UDP client its packet is gone; hook="output" keeps
# that for comparison with measurements made that way (issue 15's first).
# On lo every packet crosses each hook once.

LOSS_HOOKS = ("input", "output")


def set_loss(ns, pct, hook="input"):
    """Drops pct% (0-100, two decimals) of every packet in ns at hook; 0
    removes the rule. Raises RuntimeError."""
    if shutil.which("nft") is None:
        raise RuntimeError("needs nft (Debian package nftables)")
    if hook not in LOSS_HOOKS:
        raise RuntimeError(f"loss: hook must be one of {', '.join(LOSS_HOOKS)}")
    subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", LOSS_TABLE],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if pct <= 0:
        return
    per10k = int(round(pct * 100))
    match = f"numgen random mod 10000 < {per10k} " if per10k < 10000 else ""
    rules = (f"table inet {LOSS_TABLE} {{\n"
             f"  chain drop_some {{\n"
             f"    type filter hook {hook} priority 0; policy accept;\n"
             f"    {match}counter drop\n"
             f"  }}\n}}\n")
    p = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError(f"nft: {p.stderr.decode(errors='replace').strip()}")


def get_loss(ns):
    """(pct, packets dropped so far, hook) or (0, 0, None) when off."""
    if shutil.which("nft") is None:
        return 0, 0, None
    p = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", LOSS_TABLE],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if p.returncode != 0:
        return 0, 0, None
    toks = p.stdout.decode().split()
    try:
        hook = toks[toks.index("hook") + 1]
        per10k = int(toks[toks.index("<") + 1]) if "<" in toks else 10000
        dropped = int(toks[toks.index("packets") + 1])
    except (ValueError, IndexError):
        return 0, 0, None
    return per10k / 100.0, dropped, hook
