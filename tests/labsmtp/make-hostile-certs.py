#!/usr/bin/python3
"""make-hostile-certs.py DIR [--rsa BITS | --leaf-key KEY]: certificates built to hurt a TLS
client, for tests/integration/test_probe_hostile.sh. Python 3 stdlib driving
the openssl command line (no crypto library): every key, signature and
certificate is made by openssl; Python only splices DER bytes where openssl
refuses to write the malformed value itself (then the TBS is re-signed with
`openssl dgst -sign`, so the signature is valid).

Without --rsa it writes, all ECDSA P-256 unless said otherwise:
  hroot.pem/key "Hostile Root" -> hinter.pem/key "Hostile Intermediate"
  c10.chain.pem   leaf mx.lab.example + 8 intermediates + own root (10 certs);
                  c10-root.cert-sha256 (DANE-TA "2 0 1" at depth 9)
  c20.chain.pem   the same with 18 intermediates (20 certs > PROBE_MAX_CHAIN_CERTS);
                  c20-root.cert-sha256 (depth 19)
  san1000         leaf with 1000 SAN dNSNames, mx.lab.example the last one
  bigext          leaf with a 60 000-byte private extension (chain ~61 KB)
  toobig          leaf with two such extensions (chain ~121 KB > the client's
                  100 KB TLS_MAX_CERT_LIST_BYTES)
  nulsan          SAN dNSName "mx.lab.example\\0.evil.example" (embedded NUL)
  badutf8         no SAN, subject CN a PrintableString of non-UTF-8 bytes
                  (ff fe, a lone continuation byte, an overlong '/', a surrogate)
  emptysubj       empty subject, no SAN
  labels300       SAN and nothing else: a name of 300 labels (611 bytes)
  wild            SANs "*.*.lab.example", "*.lab", "*", "a.*.lab.example",
                  "*.ok.lab.example" (only the last is a valid wildcard)
  loop            leaf issued by "Loop A", which is issued by "Loop B", which
                  is issued by "Loop A" (same key): loop.chain.pem = leaf, A, B
                  (an issuer loop); loopA/loopB.cert-sha256
  dup             leaf issued by hinter; dup.chain.pem = leaf, hinter 40 times,
                  hroot (42 certificates, ~19 KB)
each with X.key, X.pem, X.chain.pem (leaf + hinter + hroot for the leaves
issued by hinter) and X.spki-sha256 (hex, for "3 1 1"); hinter.cert-sha256
for "2 0 1". With --rsa BITS it makes only rsabig (an RSA-BITS leaf issued by
hinter; needs a run without --rsa first), so a slow key can be made in the
background while other tests run. With --leaf-key KEY every leaf (also
those of the long chains and the loop, not rsabig) is made for that one key,
so a single DANE-EE "3 1 1" record matches all of them (the lab test gives
the key of a lab host whose TLSA the lab publishes); X.key is then not
written for the leaves. Exits non-zero on any openssl failure."""

import hashlib
import os
import shutil
import subprocess
import sys

LEAF_NAME = "mx.lab.example"
BIG_EXTENSION_BYTES = 60000
SAN_COUNT = 1000
LONG_NAME_LABELS = 300
DUPLICATES = 40


def openssl(*args, stdin=None):
    p = subprocess.run(["openssl", *args], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.stderr.write(f"openssl {' '.join(args[:3])}...: {p.stderr.decode(errors='replace')}")
        sys.exit(1)
    return p.stdout


def ec_key(path):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)


def der_length(n):
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der(tag, content):
    return bytes([tag]) + der_length(len(content)) + content


def der_split(data):
    """The elements (whole TLVs) of a DER SEQUENCE's content."""
    assert data[0] == 0x30
    pos, out = 1, []
    n = data[pos]
    pos += 1
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    end = pos + n
    while pos < end:
        start = pos
        pos += 1
        n = data[pos]
        pos += 1
        if n & 0x80:
            k = n & 0x7f
            n = int.from_bytes(data[pos:pos + k], "big")
            pos += k
        pos += n
        out.append(data[start:pos])
    return out


class Maker:
    def __init__(self, out, leaf_key=None):
        self.dir = out
        self.serial = 5000
        self.leaf_key = leaf_key

    def path(self, name):
        return os.path.join(self.dir, name)

    def sign(self, name, subject, issuer, extensions, key=None, utf8=True):
        """Issues name.pem for key (default name.key, made if missing) with
        the openssl x509v3 config lines `extensions`; issuer None = self-signed."""
        if key is None and self.leaf_key is not None and LEAF[0] in extensions:
            key = self.leaf_key
        key = key or self.path(name + ".key")
        if not os.path.exists(key):
            ec_key(key)
        csr = self.path(name + ".csr")
        req = ["req", "-new", "-key", key, "-subj", subject, "-out", csr]
        if utf8:
            req += ["-utf8"]
        openssl(*req)
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("[ e ]\n" + "\n".join(extensions) + "\n")
        self.serial += 1
        cmd = ["x509", "-req", "-in", csr, "-days", "300", "-sha256", "-set_serial", str(self.serial),
               "-extfile", ext, "-extensions", "e", "-out", self.path(name + ".pem")]
        if issuer is None:
            cmd += ["-signkey", key]
        else:
            cmd += ["-CA", self.path(issuer + ".pem"), "-CAkey", self.path(issuer + ".key")]
        openssl(*cmd)
        os.unlink(csr)
        os.unlink(ext)

    def resign(self, name, issuer, old, new):
        """Replaces the bytes old with new (same length) in name.pem's TBS
        and signs the TBS again with issuer's key."""
        cert = openssl("x509", "-in", self.path(name + ".pem"), "-outform", "DER")
        tbs, algorithm, _ = der_split(cert)
        assert tbs.count(old) == 1 and len(old) == len(new)
        tbs = tbs.replace(old, new)
        signature = openssl("dgst", "-sha256", "-sign", self.path(issuer + ".key"), stdin=tbs)
        cert = der(0x30, tbs + algorithm + der(0x03, b"\x00" + signature))
        pem = openssl("x509", "-inform", "DER", stdin=cert)
        with open(self.path(name + ".pem"), "wb") as f:
            f.write(pem)

    def facts(self, name):
        pem = self.path(name + ".pem")
        spki = openssl("pkey", "-pubin", "-outform", "DER",
                       stdin=openssl("x509", "-in", pem, "-noout", "-pubkey"))
        cert = openssl("x509", "-in", pem, "-outform", "DER")
        with open(self.path(name + ".spki-sha256"), "w") as f:
            f.write(hashlib.sha256(spki).hexdigest() + "\n")
        with open(self.path(name + ".cert-sha256"), "w") as f:
            f.write(hashlib.sha256(cert).hexdigest() + "\n")

    def chain(self, name, parts):
        with open(self.path(name + ".chain.pem"), "wb") as out:
            for p in parts:
                with open(self.path(p + ".pem"), "rb") as f:
                    out.write(f.read())


CA = ["basicConstraints = critical,CA:true", "keyUsage = critical,keyCertSign,cRLSign",
      "subjectKeyIdentifier = hash"]
LEAF = ["basicConstraints = critical,CA:false", "keyUsage = critical,digitalSignature",
        "extendedKeyUsage = serverAuth"]


def long_chain(m, name, intermediates):
    root = f"{name}-root"
    m.sign(root, f"/CN=Chain {name} Root", None, CA)
    parent = root
    for i in range(1, intermediates + 1):
        m.sign(f"{name}-i{i}", f"/CN=Chain {name} Intermediate {i}", parent, CA)
        parent = f"{name}-i{i}"
    m.sign(name, f"/CN={LEAF_NAME}", parent, LEAF + [f"subjectAltName = DNS:{LEAF_NAME}"])
    m.chain(name, [name] + [f"{name}-i{i}" for i in range(intermediates, 0, -1)] + [root])
    m.facts(name)
    m.facts(root)


def private_extension(index):
    octets = der(0x04, b"A" * BIG_EXTENSION_BYTES)
    return f"1.3.6.1.4.1.32473.{index} = DER:{octets.hex()}"


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: make-hostile-certs.py DIR [--rsa BITS]")
    leaf_key = None
    if len(args) == 3 and args[1] == "--leaf-key":
        leaf_key = os.path.abspath(args[2])
    m = Maker(args[0], leaf_key)
    os.makedirs(m.dir, exist_ok=True)
    if len(args) == 3 and args[1] == "--rsa":
        key = m.path("rsabig.key")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{int(args[2])}",
                "-out", key + ".tmp")
        os.replace(key + ".tmp", key)
        m.sign("rsabig", f"/CN={LEAF_NAME}", "hinter", LEAF + [f"subjectAltName = DNS:{LEAF_NAME}"])
        m.chain("rsabig", ["rsabig", "hinter", "hroot"])
        m.facts("rsabig")
        return
    m.sign("hroot", "/CN=Hostile Root", None, CA)
    m.sign("hinter", "/CN=Hostile Intermediate", "hroot", CA)
    m.facts("hinter")
    long_chain(m, "c10", 8)
    long_chain(m, "c20", 18)

    leaves = {
        "san1000": ("/CN=" + LEAF_NAME, [
            "subjectAltName = " + ",".join(f"DNS:n{i:04d}.names.lab.example" for i in range(SAN_COUNT - 1))
            + f",DNS:{LEAF_NAME}"]),
        "bigext": ("/CN=" + LEAF_NAME, [f"subjectAltName = DNS:{LEAF_NAME}", private_extension(1)]),
        "toobig": ("/CN=" + LEAF_NAME, [f"subjectAltName = DNS:{LEAF_NAME}", private_extension(1),
                                        private_extension(2)]),
        "nulsan": ("/CN=nul-san", [
            "subjectAltName = DER:" + der(0x30, der(0x82, LEAF_NAME.encode() + b"\x00.evil.example")).hex()]),
        "badutf8": ("/CN=QQQQbadutf8QQQQ", []),
        "emptysubj": ("/", []),
        "labels300": ("/CN=labels300", [
            "subjectAltName = DNS:" + "a." * (LONG_NAME_LABELS - 2) + "lab.example"]),
        "wild": ("/CN=wild", [
            "subjectAltName = DNS:*.*.lab.example,DNS:*.lab,DNS:*,DNS:a.*.lab.example,DNS:*.ok.lab.example"]),
    }
    for name, (subject, extensions) in leaves.items():
        m.sign(name, subject, "hinter", LEAF + extensions)
        m.chain(name, [name, "hinter", "hroot"])
    # openssl will not write these bytes into a name: splice them in as a
    # PrintableString (tag 0x13). Invalid UTF-8 in a UTF8String cannot be
    # served at all: OpenSSL's decoder canonicalizes names to UTF-8 and
    # rejects the whole certificate, the server's own too.
    m.resign("badutf8", "hinter", b"\x0c\x0fQQQQbadutf8QQQQ", b"\x13\x0f\xff\xfe\x80bad\xc0\xafutf8\xed\xa0\x80")
    m.chain("badutf8", ["badutf8", "hinter", "hroot"])
    for name in leaves:
        m.facts(name)

    # The issuer loop: A self-signed, B issued by A, A again issued by B.
    m.sign("loopA0", "/CN=Loop A", None, CA)
    m.sign("loopB", "/CN=Loop B", "loopA0", CA)
    shutil.copy(m.path("loopA0.key"), m.path("loopA.key"))
    m.sign("loopA", "/CN=Loop A", "loopB", CA)
    m.sign("loop", f"/CN={LEAF_NAME}", "loopA", LEAF + [f"subjectAltName = DNS:{LEAF_NAME}"])
    m.chain("loop", ["loop", "loopA", "loopB"])
    for name in ("loop", "loopA", "loopB"):
        m.facts(name)
    m.sign("dup", f"/CN={LEAF_NAME}", "hinter", LEAF + [f"subjectAltName = DNS:{LEAF_NAME}"])
    m.chain("dup", ["dup"] + ["hinter"] * DUPLICATES + ["hroot"])
    m.facts("dup")


if __name__ == "__main__":
    main()
