#!/usr/bin/python3
"""A DNS forwarder that writes down every question it is asked, for tests
that must show a name was never looked up (test_optout_lab).

    dns_log_proxy.py --upstream IP[:PORT] --log FILE --port-file FILE

Listens on 127.0.0.1, UDP and TCP on the same free port (written to
--port-file once both listen), forwards each query unchanged to the upstream
resolver over the same transport and relays the answer unchanged (AD bit,
EDNS and all, so a validating upstream still looks validating). Each query
adds one line "qname qtype" (qname lower case, with the trailing dot; qtype
as a number) to --log, flushed at once. Runs until killed. Standard library
only."""

import argparse
import os
import socket
import struct
import sys
import threading

log_lock = threading.Lock()


def question(msg):
    """(qname, qtype) of a DNS query, or None when it cannot be read."""
    labels, i = [], 12
    try:
        while True:
            n = msg[i]
            if n == 0:
                i += 1
                break
            if n & 0xC0:
                return None  # no compression in a question we send
            labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace").lower())
            i += 1 + n
        qtype = struct.unpack("!H", msg[i:i + 2])[0]
    except (IndexError, struct.error):
        return None
    return ".".join(labels) + ".", qtype


def record(log, msg):
    q = question(msg)
    with log_lock:
        log.write(f"{q[0]} {q[1]}\n" if q else "? ?\n")
        log.flush()


def udp_one(sock, upstream, log, msg, client):
    record(log, msg)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        out.settimeout(10)
        try:
            out.sendto(msg, upstream)
            reply, _ = out.recvfrom(65535)
        except OSError:
            return  # the client times out and retries, as with a lost packet
    sock.sendto(reply, client)


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def tcp_one(conn, upstream, log):
    with conn:
        conn.settimeout(30)
        try:
            while True:
                head = read_exact(conn, 2)
                if head is None:
                    return
                msg = read_exact(conn, struct.unpack("!H", head)[0])
                if msg is None:
                    return
                record(log, msg)
                with socket.create_connection(upstream, timeout=10) as out:
                    out.sendall(head + msg)
                    rhead = read_exact(out, 2)
                    reply = read_exact(out, struct.unpack("!H", rhead)[0]) if rhead else None
                if reply is None:
                    return
                conn.sendall(rhead + reply)
        except OSError:
            return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    host, _, port = args.upstream.partition(":")
    upstream = (host, int(port or 53))
    log = open(args.log, "a")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(64)

    def accept_loop():
        while True:
            conn, _ = tcp.accept()
            threading.Thread(target=tcp_one, args=(conn, upstream, log), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        msg, client = udp.recvfrom(65535)
        threading.Thread(target=udp_one, args=(udp, upstream, log, msg, client), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
