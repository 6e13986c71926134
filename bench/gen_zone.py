#!/usr/bin/env python3
"""Writes a TLD-like zone file (as published by zone access programmes) with
N delegations to stdout: SOA, apex NS, 2-3 NS per delegation, DS and RRSIG
for every 8th delegation, glue for every 16th, a few NSEC-less out-of-zone
lines. Deterministic (seeded) so benchmark runs compare. Usage:
gen_zone.py N [TLD] [--relative]"""
import random
import sys


def main():
    count = int(sys.argv[1])
    tld = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("-") else "example"
    relative = "--relative" in sys.argv
    rnd = random.Random(5)
    out = sys.stdout
    write = out.write
    if relative:
        write(f"$ORIGIN {tld}.\n$TTL 86400\n")
    write(f"{tld}.\t86400\tin\tsoa\ta.nic.{tld}. hostmaster.nic.{tld}. 1700000000 1800 900 604800 86400\n")
    write(f"{tld}.\t172800\tin\tns\ta.nic.{tld}.\n{tld}.\t172800\tin\tns\tb.nic.{tld}.\n")
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    buf = []
    for i in range(count):
        stem = "".join(rnd.choice(letters) for _ in range(rnd.randint(3, 12)))
        label = f"{stem}{i:x}"
        owner = label if relative else f"{label}.{tld}."
        hosts = rnd.choice(("ns1.dnsprovider.net.", "ns1.example-hosting.com."))
        buf.append(f"{owner}\t172800\tin\tns\t{hosts}\n")
        buf.append(f"{owner}\t172800\tin\tns\tns2.{hosts[4:]}\n")
        if i % 3 == 0:
            buf.append(f"{owner}\t172800\tin\tns\tns3.{hosts[4:]}\n")
        if i % 8 == 0:
            buf.append(f"{owner}\t86400\tin\tds\t{rnd.randint(1, 65535)} 13 2 "
                       f"{rnd.getrandbits(256):064X}\n")
            buf.append(f"{owner}\t86400\tin\trrsig\tDS 8 2 86400 20250101000000 20240101000000 "
                       f"12345 {tld}. {rnd.getrandbits(512):0128x}==\n")
        if i % 16 == 0:
            glue = f"ns1.{label}" if relative else f"ns1.{label}.{tld}."
            buf.append(f"{glue}\t172800\tin\ta\t192.0.2.{i % 250 + 1}\n")
        if len(buf) > 10000:
            write("".join(buf))
            buf.clear()
    write("".join(buf))


if __name__ == "__main__":
    main()
