"""The lab's MTA-STS policy hosts (issue 18): one HTTPS server
(tests/labsmtp/sts_https_server.py) inside the namespace for every
[policy HOST] of the cases file, listening on port 443 of each policy
address (127.54.0.0/24, on `lo` like all of 127/8). Certificates come from
the lab CA (TlsMaterial.variant, ECDSA): the lab CA is the lab's WebPKI, so
`--ca-file <state>/tls/ca.crt` makes a `cert = ca` policy host and every
lab MX certificate (CA-issued, SAN = host) WebPKI-valid.

Files under <state>/sts/: hosts.conf (the server's config), HOST.chain.pem /
HOST.key (links to the variant), HOST.policy (the body), https.pid,
https.ports, https.log."""

import os
import subprocess
import time

SERVER = os.path.join("tests", "labsmtp", "sts_https_server.py")
HTTPS_PORT = int(os.environ.get("DANESCAN_LAB_HTTPS_PORT", "443"))


def sts_dir(state):
    return os.path.join(state, "sts")


def pidfiles(state):
    path = os.path.join(sts_dir(state), "https.pid")
    return {"sts-https": path} if os.path.exists(os.path.join(sts_dir(state), "hosts.conf")) else {}


def _link(target, path):
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


def build(state, world, tls):
    """Writes the server config and the certificate links. Returns the
    number of policy hosts (0: no server, no config)."""
    d = sts_dir(state)
    conf = os.path.join(d, "hosts.conf")
    if not world.policies:
        if os.path.exists(conf):
            os.unlink(conf)
        return 0
    os.makedirs(d, exist_ok=True)
    lines = []
    for host, pd in sorted(world.policies.items()):
        key, chain = tls.variant(host, "ecdsa", pd.cert)
        _link(chain, os.path.join(d, host + ".chain.pem"))
        _link(key, os.path.join(d, host + ".key"))
        line = f"{host} {host} {pd.serve}"
        if pd.policy is not None:
            with open(os.path.join(d, host + ".policy"), "w", newline="") as out:
                out.write(pd.policy)
            line += f" {host}.policy"
        lines.append(line)
    with open(conf, "w") as out:
        out.write("# written by scripts/lab from the [policy] sections\n" + "\n".join(lines) + "\n")
    return len(lines)


def addresses(world):
    return sorted({pd.address for pd in world.policies.values()})


def start(state, ns, repo, world):
    """Starts the policy server in the namespace; returns an error text or None."""
    d = sts_dir(state)
    if not world.policies:
        return None
    ports = os.path.join(d, "https.ports")
    if os.path.exists(ports):
        os.unlink(ports)
    cmd = ["ip", "netns", "exec", ns, "python3", os.path.join(repo, SERVER), "--config",
           os.path.join(d, "hosts.conf"), "--port-file", ports, "--log", os.path.join(d, "https.log")]
    for a in addresses(world):
        cmd += ["--listen", f"{a}:{HTTPS_PORT}"]
    err = open(os.path.join(d, "https.err"), "w")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    with open(os.path.join(d, "https.pid"), "w") as out:
        out.write(f"{proc.pid}\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(ports):
            return None
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with open(os.path.join(d, "https.err")) as f:
        return "policy server did not start: " + f.read()[-2000:]


def expected_http(pd):
    """(curl exit code, HTTP code, content type prefix) a client with the lab
    CA and no redirects sees from the policy host, for `scripts/lab verify`
    (None: not checked, e.g. bodies that never end)."""
    if pd.cert != "ca":
        return (60, None, None)   # curl: peer certificate cannot be authenticated
    return {"ok": (0, 200, "text/plain"), "chunked": (0, 200, "text/plain"), "close": (0, 200, "text/plain"),
            "exact": (0, 200, "text/plain"), "oversize": (0, 200, "text/plain"),
            "redirect": (0, 301, None), "temp-redirect": (0, 307, None), "notfound": (0, 404, None),
            "server-error": (0, 500, None), "html": (0, 200, "text/html"), "notype": (0, 200, ""),
            }.get(pd.serve)


def verify(ns, state, world):
    """Checks every policy host with curl inside the namespace (the lab
    resolver, the lab CA, no redirects). Returns (passed, failures)."""
    ca = os.path.join(state, "tls", "ca.crt")
    passed, failures = 0, []
    for host, pd in sorted(world.policies.items()):
        want = expected_http(pd)
        if want is None:
            continue
        r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sS", "--cacert", ca, "--max-redirs", "0",
                            "-m", "5", "-o", "/dev/null", "-w", "%{http_code} %{content_type}",
                            f"https://{host}:{HTTPS_PORT}/.well-known/mta-sts.txt"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        code, ctype = (r.stdout.split(" ", 1) + [""])[:2]
        ok = r.returncode == want[0]
        if ok and want[1] is not None:
            if want[2] is None:
                type_ok = True
            elif want[2] == "":
                type_ok = ctype == ""
            else:
                type_ok = ctype.startswith(want[2])
            ok = code == str(want[1]) and type_ok
        if ok:
            passed += 1
        else:
            failures.append(f"policy {host}: curl exit {r.returncode} '{r.stdout}' {r.stderr.strip()[:200]}, "
                            f"want exit {want[0]} {want[1]} {want[2]}")
    return passed, failures
