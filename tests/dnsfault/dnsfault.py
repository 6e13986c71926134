#!/usr/bin/python3
"""dnsfault: a DNS fault proxy for the lab (Python 3 stdlib, asyncio).

Sits between a DNS client and a server (the scanner and the lab Unbound, or
Unbound and an authoritative NSD) on its own address and port, UDP and TCP,
and does to the traffic what the Internet does: delays each packet, drops
queries or replies, duplicates and reorders replies, sends forged replies
ahead of the real one (wrong ID; right ID from a wrong source port or a
wrong source address), and sets TC=1 on UDP replies so that the client must
come back over TCP (which is forwarded too). Every fault is drawn per packet
from a seeded random generator and counted; the counts are written as JSON
to --counts every 0.2 s and on SIGTERM/SIGINT.

A forged reply carries the real question and says NXDOMAIN with AD set and
no records: a client that accepts one gets a different verdict, so equal
results prove that none was accepted.

  dnsfault.py --listen 127.0.0.1:5301 --upstream 127.0.0.1:53 \\
      --delay 50-300 --drop-query 0.05 --drop-reply 0.05 --dup 0.05 \\
      --reorder 0.05 --spoof 0.05 --tc 0.05 --counts counts.json --seed 1

--delay 3000 holds every reply 3 s (a slow authoritative server);
--drop-query 1 never answers (a dead one). See tests/dnsfault/README.md."""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import struct
import sys

COUNTERS = ("queries", "replies", "forwarded_replies", "dropped_queries", "dropped_replies",
            "duplicated", "reordered", "truncated", "spoofed_id", "spoofed_port",
            "spoofed_address", "tcp_connections", "tcp_queries", "tcp_replies", "tcp_dropped",
            "upstream_errors", "expired")
# A query whose reply has not come back after this long is forgotten (its
# upstream ID can be reused).
PENDING_TTL_S = 30.0
REORDER_EXTRA_S = (0.05, 0.4)   # a reordered reply is held this much longer
SPOOF_LEAD_S = 0.002            # forged replies go out this much before the real one


def parse_hostport(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def parse_delay(text):
    lo, _, hi = text.partition("-")
    lo = float(lo)
    return lo / 1000.0, (float(hi) if hi else lo) / 1000.0


def question_end(wire):
    """Offset just past the question section (one question), or None."""
    if len(wire) < 12 or struct.unpack("!H", wire[4:6])[0] != 1:
        return None
    pos = 12
    while pos < len(wire):
        n = wire[pos]
        if n == 0:
            return pos + 1 + 4 if pos + 5 <= len(wire) else None
        if n & 0xC0:
            return pos + 2 + 4 if pos + 6 <= len(wire) else None
        pos += 1 + n
    return None


def header_and_question(wire, flags_or=0, flags_and=0xFFFF, rcode=None):
    """The reply cut to its header and question, counts zeroed, flags edited."""
    end = question_end(wire)
    if end is None:
        return None
    ident, flags = struct.unpack("!HH", wire[:4])
    flags = (flags & flags_and) | flags_or
    if rcode is not None:
        flags = (flags & ~0x000F) | rcode
    return struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + wire[12:end]


class Proxy:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.delay = parse_delay(args.delay)
        self.listen = parse_hostport(args.listen)
        self.upstream = parse_hostport(args.upstream)
        self.pending = {}         # upstream ID -> (client address, client ID, deadline)
        self.next_id = self.rng.randrange(65536)
        self.loop = None
        self.server = None        # UDP listening transport
        self.up = None            # UDP upstream transport
        self.spoof_port = None    # UDP transport on another port of the listen address
        self.spoof_addr = None    # UDP transport on another address
        self.dirty = True

    # ---- helpers -------------------------------------------------------
    def hit(self, p):
        return p > 0 and self.rng.random() < p

    def wait(self):
        lo, hi = self.delay
        return self.rng.uniform(lo, hi) if hi > 0 else 0.0

    def count(self, key, n=1):
        self.counts[key] += n
        self.dirty = True

    def later(self, delay, fn, *a):
        if delay <= 0:
            fn(*a)
        else:
            self.loop.call_later(delay, fn, *a)

    def write_counts(self):
        if not self.args.counts:
            return
        tmp = self.args.counts + ".tmp"
        with open(tmp, "w") as f:
            json.dump(dict(self.counts, pending=len(self.pending)), f)
        os.replace(tmp, self.args.counts)
        self.dirty = False

    async def flush_counts(self):
        while True:
            await asyncio.sleep(0.2)
            now = self.loop.time()
            stale = [k for k, v in self.pending.items() if v[2] < now]
            for k in stale:
                del self.pending[k]
            if stale:
                self.count("expired", len(stale))
            if self.dirty:
                self.write_counts()

    # ---- UDP -----------------------------------------------------------
    def client_datagram(self, data, addr):
        self.count("queries")
        if len(data) < 12 or self.hit(self.args.drop_query):
            if len(data) >= 12:
                self.count("dropped_queries")
            return
        upstream_id = None
        for _ in range(16):
            candidate = self.rng.randrange(65536)
            if candidate not in self.pending:
                upstream_id = candidate
                break
        if upstream_id is None:
            self.count("upstream_errors")
            return
        client_id = struct.unpack("!H", data[:2])[0]
        self.pending[upstream_id] = (addr, client_id, self.loop.time() + PENDING_TTL_S)
        self.up.sendto(struct.pack("!H", upstream_id) + data[2:], self.upstream)

    def upstream_datagram(self, data, addr):
        if len(data) < 12:
            return
        entry = self.pending.pop(struct.unpack("!H", data[:2])[0], None)
        if entry is None:
            return
        client, client_id = entry[0], entry[1]
        reply = struct.pack("!H", client_id) + data[2:]
        self.count("replies")
        if self.hit(self.args.drop_reply):
            self.count("dropped_replies")
            return
        if self.hit(self.args.tc):
            cut = header_and_question(reply, flags_or=0x0200)
            if cut is not None:
                self.count("truncated")
                reply = cut
        delay = self.wait()
        if self.hit(self.args.reorder):
            self.count("reordered")
            delay += self.rng.uniform(*REORDER_EXTRA_S)
        if self.hit(self.args.spoof):
            self.later(max(0.0, delay - SPOOF_LEAD_S), self.send_spoofs, reply, client)
        self.later(delay, self.send_reply, reply, client)
        if self.hit(self.args.dup):
            self.count("duplicated")
            self.later(delay + self.rng.uniform(0.0, 0.05), self.send_reply, reply, client)

    def send_reply(self, reply, client):
        self.count("forwarded_replies")
        self.server.sendto(reply, client)

    def send_spoofs(self, reply, client):
        # NXDOMAIN with AD and no records: accepted, it would change the verdict.
        forged = header_and_question(reply, flags_or=0x0020, flags_and=~0x0200 & 0xFFFF, rcode=3)
        if forged is None:
            return
        real_id = struct.unpack("!H", forged[:2])[0]
        wrong_id = (real_id + 1 + self.rng.randrange(65535)) % 65536
        self.server.sendto(struct.pack("!H", wrong_id) + forged[2:], client)
        self.count("spoofed_id")
        self.spoof_port.sendto(forged, client)
        self.count("spoofed_port")
        if self.spoof_addr is not None:
            self.spoof_addr.sendto(forged, client)
            self.count("spoofed_address")

    # ---- TCP -----------------------------------------------------------
    async def tcp_client(self, reader, writer):
        self.count("tcp_connections")
        up_writer = None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            while True:
                head = await reader.readexactly(2)
                query = await reader.readexactly(struct.unpack("!H", head)[0])
                self.count("tcp_queries")
                if self.hit(self.args.drop_query):
                    self.count("tcp_dropped")
                    continue
                up_writer.write(head + query)
                await up_writer.drain()
                head = await up_reader.readexactly(2)
                reply = await up_reader.readexactly(struct.unpack("!H", head)[0])
                await asyncio.sleep(self.wait())
                if self.hit(self.args.drop_reply):
                    self.count("tcp_dropped")
                    continue
                writer.write(head + reply)
                await writer.drain()
                self.count("tcp_replies")
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    w.close()

    # ---- start ---------------------------------------------------------
    async def run(self):
        self.loop = asyncio.get_running_loop()
        proxy = self

        class Listen(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                proxy.client_datagram(data, addr)

            def error_received(self, exc):
                proxy.count("upstream_errors")

        class Upstream(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                proxy.upstream_datagram(data, addr)

            def error_received(self, exc):
                proxy.count("upstream_errors")

        host, port = self.listen
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        up_family = socket.AF_INET6 if ":" in self.upstream[0] else socket.AF_INET
        self.server, _ = await self.loop.create_datagram_endpoint(Listen, local_addr=self.listen)
        self.up, _ = await self.loop.create_datagram_endpoint(Upstream, family=up_family)
        for t in (self.server, self.up):
            s = t.get_extra_info("socket")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.spoof_port, _ = await self.loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, family=family, local_addr=(host, 0))
        if self.args.spoof_address:
            self.spoof_addr, _ = await self.loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=(self.args.spoof_address, port))
        tcp = await asyncio.start_server(self.tcp_client, host, port, reuse_address=True)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, stop.set)
        flusher = asyncio.ensure_future(self.flush_counts())
        self.write_counts()
        if self.args.ready:
            with open(self.args.ready, "w") as f:
                f.write(f"{os.getpid()}\n")
        await stop.wait()
        flusher.cancel()
        tcp.close()
        self.write_counts()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, help="IP:PORT for UDP and TCP")
    ap.add_argument("--upstream", required=True, help="IP:PORT of the real server")
    ap.add_argument("--delay", default="0", help="ms, or MIN-MAX ms, random per reply")
    ap.add_argument("--drop-query", type=float, default=0.0, help="fraction of queries dropped")
    ap.add_argument("--drop-reply", type=float, default=0.0, help="fraction of replies dropped")
    ap.add_argument("--dup", type=float, default=0.0, help="fraction of replies sent twice")
    ap.add_argument("--reorder", type=float, default=0.0,
                    help="fraction of replies held %d-%d ms longer" % tuple(int(x * 1000) for x in REORDER_EXTRA_S))
    ap.add_argument("--spoof", type=float, default=0.0,
                    help="fraction of replies preceded by forged ones (wrong ID, wrong port, "
                         "wrong address with --spoof-address)")
    ap.add_argument("--spoof-address", help="source address of the wrong-address forgeries")
    ap.add_argument("--tc", type=float, default=0.0, help="fraction of UDP replies cut to TC=1")
    ap.add_argument("--counts", help="JSON file of what was done")
    ap.add_argument("--ready", help="file written (pid) once listening")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    asyncio.run(Proxy(args).run())


if __name__ == "__main__":
    main(sys.argv[1:])
