#!/usr/bin/env python3
"""Writes a TLD-like zone file, as zone access programmes (CZDS) publish
them, with N delegations to stdout: lower case, absolute owners, tab
separated, the owner repeated on every line. The mix follows a large signed
gTLD with NSEC3 opt-out (.com-like): SOA and apex NS/DNSKEY/NSEC3PARAM with
RRSIGs; 2-3 NS per delegation (some hosts in-zone); for every 8th delegation
a DS with its RRSIG and an NSEC3 with its RRSIG (only secure delegations get
NSEC3 under opt-out); A glue for every 16th, AAAA glue for every 32nd.
About 2.9 lines and 200 bytes per delegation (ECDSA signatures). Deterministic (seeded) so
benchmark runs compare. Usage: gen_zone.py N [TLD] [--relative] [--unsigned]
(--relative: $ORIGIN and relative owners; --unsigned: no DS/RRSIG/NSEC3)."""
import base64
import random
import sys


def main():
    count = int(sys.argv[1])
    tld = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("-") else "example"
    relative = "--relative" in sys.argv
    signed = "--unsigned" not in sys.argv
    rnd = random.Random(5)
    out = sys.stdout
    write = out.write
    b32 = "0123456789abcdefghijklmnopqrstuv"

    def sig(nbytes):
        return base64.b64encode(rnd.getrandbits(8 * nbytes).to_bytes(nbytes, "big")).decode()

    def rrsig(owner, covered, ttl, labels):
        return (f"{owner}\t{ttl}\tin\trrsig\t{covered} 13 {labels} {ttl} 20250101000000 20240101000000 "
                f"12345 {tld}. {sig(64)}\n")

    apex = "@" if relative else f"{tld}."
    if relative:
        write(f"$ORIGIN {tld}.\n$TTL 86400\n")
    write(f"{apex}\t900\tin\tsoa\ta.nic.{tld}. hostmaster.nic.{tld}. 1700000000 1800 900 604800 86400\n")
    for h in "abcdefghijklm":
        write(f"{apex}\t172800\tin\tns\t{h}.nic.{tld}.\n")
    if signed:
        write(rrsig(apex, "SOA", 900, 1))
        write(rrsig(apex, "NS", 172800, 1))
        write(f"{apex}\t86400\tin\tdnskey\t257 3 13 {sig(64)}\n")
        write(f"{apex}\t86400\tin\tdnskey\t256 3 13 {sig(64)}\n")
        write(rrsig(apex, "DNSKEY", 86400, 1))
        write(f"{apex}\t86400\tin\tnsec3param\t1 0 0 -\n")
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    providers = ("dnsprovider.net.", "example-hosting.com.", "registrar-servers.com.", "cloud-dns.org.")
    buf = []
    for i in range(count):
        stem = "".join(rnd.choice(letters) for _ in range(rnd.randint(3, 12)))
        label = f"{stem}{i:x}"
        owner = label if relative else f"{label}.{tld}."
        if i % 16 == 0:
            hosts = (f"ns1.{label}.{tld}.", f"ns2.{label}.{tld}.")
        else:
            provider = rnd.choice(providers)
            hosts = (f"ns1.{provider}", f"ns2.{provider}", f"ns3.{provider}")
        for host in hosts[: 3 if i % 3 == 0 else 2]:
            buf.append(f"{owner}\t172800\tin\tns\t{host}\n")
        if signed and i % 8 == 0:
            buf.append(f"{owner}\t86400\tin\tds\t{rnd.randint(1, 65535)} 13 2 {rnd.getrandbits(256):064X}\n")
            buf.append(rrsig(owner, "DS", 86400, 2))
            hashed = "".join(rnd.choice(b32) for _ in range(32))
            following = "".join(rnd.choice(b32) for _ in range(32))
            nsec3_owner = hashed if relative else f"{hashed}.{tld}."
            buf.append(f"{nsec3_owner}\t86400\tin\tnsec3\t1 1 0 - {following.upper()} NS DS RRSIG\n")
            buf.append(rrsig(nsec3_owner, "NSEC3", 86400, 2))
        if i % 16 == 0:
            glue = f"ns1.{label}" if relative else f"ns1.{label}.{tld}."
            buf.append(f"{glue}\t172800\tin\ta\t192.0.2.{i % 250 + 1}\n")
            if i % 32 == 0:
                buf.append(f"{glue}\t172800\tin\taaaa\t2001:db8:{i % 65536:x}::53\n")
        if len(buf) > 10000:
            write("".join(buf))
            buf.clear()
    write("".join(buf))


if __name__ == "__main__":
    main()
