#!/usr/bin/python3
"""danescan-sts-https: a small HTTPS server that plays MTA-STS policy hosts
(RFC 8461 3.3) for the policy fetch tests and the lab, well-behaved and
hostile. Python's ssl + socketserver, one thread per connection.

usage: sts_https_server.py --config FILE [--listen ADDR:PORT]... [--port-file F]
                           [--log F] [--slow-tls] [--max-tls 1.1|1.2|1.3]

The config has one line per policy host ("#" comments):
    HOST CERT_PREFIX BEHAVIOUR [POLICY_FILE]
CERT_PREFIX.chain.pem / CERT_PREFIX.key is the certificate served when the
client's SNI is HOST (unknown SNI or none: the first line's certificate).
The behaviour is chosen by the request's Host header (unknown: 404):
  ok              200 text/plain; charset=utf-8, Content-Length, the policy
  chunked         the same, Transfer-Encoding: chunked (small chunks)
  close           the same, no length: the body ends with the connection
  redirect / temp-redirect   301 / 307 to https://HOST/other
  notfound / server-error    404 / 500
  html / notype   200 text/html / 200 without Content-Type
  oversize        200 text/plain with Content-Length 70000 and the body
  oversizechunked 200 chunked, 100000 bytes
  endless         200 text/plain, no length, bytes until the client leaves
  drip            200 text/plain, no length, one byte every 200 ms
  hugeheaders     200, then header lines until the client leaves
  garbage         bytes that are not HTTP
  short           Content-Length 100, 10 bytes, close
  exact           a body of exactly 65536 bytes (the cap: still a policy)
POLICY_FILE (default: an enforce policy with mx: mx.DOMAIN) is the body of
ok/chunked/close. --slow-tls accepts TCP and never answers the handshake;
--max-tls caps the TLS version offered. The log has one line per request
("sni=... host=... behaviour=...") and per connection ("connect from=...").
"""

import argparse
import os
import socket
import socketserver
import ssl
import sys
import threading
import time

LOCK = threading.Lock()


def log(args, line):
    if args.log:
        with LOCK, open(args.log, "a") as out:
            out.write("%.3f %s\n" % (time.monotonic(), line))


def default_policy(host):
    domain = host[len("mta-sts."):] if host.startswith("mta-sts.") else host
    return ("version: STSv1\r\nmode: enforce\r\nmx: mx.%s\r\nmax_age: 86400\r\n" % domain).encode()


def load_config(path, base):
    hosts = {}
    first = None
    with open(path) as stream:
        for number, line in enumerate(stream, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) < 3:
                sys.exit("%s:%d: want HOST CERT_PREFIX BEHAVIOUR [POLICY_FILE]" % (path, number))
            host, cert, behaviour = fields[0].lower(), fields[1], fields[2]
            if not os.path.isabs(cert):
                cert = os.path.join(base, cert)
            policy = None
            if len(fields) > 3:
                pfile = fields[3] if os.path.isabs(fields[3]) else os.path.join(base, fields[3])
                with open(pfile, "rb") as p:
                    policy = p.read()
            hosts[host] = (cert, behaviour, policy)
            if first is None:
                first = host
    return hosts, first


def make_context(cert, max_tls):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if max_tls == "1.1":
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    elif max_tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert + ".chain.pem", cert + ".key")
    return ctx


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data and len(data) < 16384:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    host = ""
    for line in data.split(b"\n")[1:]:
        if line.lower().startswith(b"host:"):
            host = line[5:].strip().decode("latin-1").lower()
    return data.split(b"\r\n", 1)[0].decode("latin-1"), host


def respond(conn, behaviour, host, policy):
    def head(status, fields):
        conn.sendall(("HTTP/1.1 %s\r\n" % status + "".join("%s: %s\r\n" % f for f in fields) + "\r\n").encode())
    plain = ("Content-Type", "text/plain; charset=utf-8")
    if behaviour == "ok":
        head("200 OK", [plain, ("Content-Length", len(policy)), ("Connection", "close")])
        conn.sendall(policy)
    elif behaviour == "chunked":
        head("200 OK", [plain, ("Transfer-Encoding", "chunked")])
        for i in range(0, len(policy), 7):
            part = policy[i:i + 7]
            conn.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        conn.sendall(b"0\r\nX-Trailer: yes\r\n\r\n")
    elif behaviour == "close":
        head("200 OK", [plain])
        conn.sendall(policy)
    elif behaviour in ("redirect", "temp-redirect"):
        head("301 Moved Permanently" if behaviour == "redirect" else "307 Temporary Redirect",
             [("Location", "https://%s/other" % host), ("Content-Length", 0)])
    elif behaviour == "notfound":
        head("404 Not Found", [plain, ("Content-Length", 9)])
        conn.sendall(b"not found")
    elif behaviour == "server-error":
        head("500 Internal Server Error", [("Content-Length", 0)])
    elif behaviour == "html":
        head("200 OK", [("Content-Type", "text/html"), ("Content-Length", len(policy))])
        conn.sendall(policy)
    elif behaviour == "notype":
        head("200 OK", [("Content-Length", len(policy))])
        conn.sendall(policy)
    elif behaviour == "oversize":
        head("200 OK", [plain, ("Content-Length", 70000)])
        conn.sendall(policy + b"#" * (70000 - len(policy)))
    elif behaviour == "oversizechunked":
        head("200 OK", [plain, ("Transfer-Encoding", "chunked")])
        for _ in range(100):
            conn.sendall(b"3e8\r\n" + b"#" * 1000 + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
    elif behaviour == "endless":
        head("200 OK", [plain])
        block = b"#" * 16384
        while True:
            conn.sendall(block)
    elif behaviour == "drip":
        head("200 OK", [plain])
        while True:
            conn.sendall(b"#")
            time.sleep(0.2)
    elif behaviour == "hugeheaders":
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        while True:
            conn.sendall(line)
    elif behaviour == "garbage":
        conn.sendall(b"\x00\x01 this is not HTTP at all\r\n\r\n")
    elif behaviour == "short":
        head("200 OK", [plain, ("Content-Length", 100)])
        conn.sendall(policy[:10])
    elif behaviour == "exact":
        body = policy + b"#" * (65536 - len(policy))
        head("200 OK", [plain, ("Content-Length", len(body))])
        conn.sendall(body)
    else:
        head("404 Not Found", [("Content-Length", 0)])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--certs", default=None, help="directory of relative CERT_PREFIX (default: the config's)")
    parser.add_argument("--listen", action="append", default=[])
    parser.add_argument("--port-file")
    parser.add_argument("--log")
    parser.add_argument("--slow-tls", action="store_true")
    parser.add_argument("--max-tls", choices=["1.1", "1.2", "1.3"])
    args = parser.parse_args()
    base = args.certs or os.path.dirname(os.path.abspath(args.config))
    hosts, first = load_config(args.config, base)
    contexts = {}
    for host, (cert, _, _) in hosts.items():
        if cert not in contexts:
            contexts[cert] = make_context(cert, args.max_tls)
    default_ctx = contexts[hosts[first][0]]

    def on_sni(sslobj, name, _ctx):
        entry = hosts.get((name or "").lower())
        if entry is not None:
            sslobj.context = contexts[entry[0]]
        sslobj.sni = name
    for ctx in contexts.values():
        ctx.sni_callback = on_sni

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            log(args, "connect from=%s to=%s" % (self.client_address[0], self.server.server_address[0]))
            if args.slow_tls:
                time.sleep(600)
                return
            try:
                conn = default_ctx.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError) as error:
                log(args, "handshake-failed %s" % error)
                return
            try:
                line, host = read_request(conn)
                entry = hosts.get(host)
                behaviour = entry[1] if entry else "unknown"
                policy = (entry[2] if entry and entry[2] is not None else default_policy(host))
                log(args, "request sni=%s host=%s behaviour=%s line=%s"
                    % (getattr(conn, "sni", None), host, behaviour, line))
                respond(conn, behaviour, host, policy)
                try:
                    conn.unwrap()
                except (ssl.SSLError, OSError):
                    pass
            except (ssl.SSLError, OSError):
                pass
            finally:
                log(args, "close")

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    servers = []
    ports = []
    for listen in args.listen or ["127.0.0.1:0"]:
        address, port = listen.rsplit(":", 1)
        address = address.strip("[]")
        cls = Server
        if ":" in address:
            class Server6(Server):
                address_family = socket.AF_INET6
            cls = Server6
        server = cls((address, int(port)), Handler)
        servers.append(server)
        ports.append("%s %d" % (address, server.server_address[1]))
        threading.Thread(target=server.serve_forever, daemon=True).start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as out:
            out.write("\n".join(ports) + "\n")
        os.rename(args.port_file + ".tmp", args.port_file)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
