#!/bin/sh
# make-certs.sh DIR: generates the lab's certificates and keys into DIR.
#   root.pem/key (RSA, "Lab Root CA") -> inter.pem/key (ECDSA, "Lab Intermediate")
#   leaf-ec.pem    ECDSA P-256, mx.lab.example, valid        (+ leaf-ec.chain.pem: leaf+inter+root)
#   leaf-rsa.pem   RSA-2048,    mx.lab.example, valid        (+ .chain.pem)
#   leaf-wrong.pem ECDSA P-256, other.example, valid         (+ .chain.pem)
#   leaf-expired.pem ECDSA P-256, mx.lab.example, 2020-2021  (+ .chain.pem)
#   other.pem      ECDSA P-256 self-signed, an unrelated key (mismatch cases)
# and for each cert X: X.spki-sha256, X.spki-sha512, X.spki-hex, X.cert-sha256
# (hex, for TLSA records 3 1 1, 3 1 2, 3 1 0, 3 0 1 / 2 0 1).
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
q() { "$@" >/dev/null 2>&1; }

cat > ca.cnf <<CNF
[ ca ]
default_ca = lab
[ lab ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[ any ]
commonName = supplied
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_leaf ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
CNF
: > index.txt
echo 1000 > serial

q openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 3650 \
  -subj "/CN=Lab Root CA" -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key -out inter.csr \
  -subj "/CN=Lab Intermediate"
q openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -extensions v3_ca -days 3000 \
  -in inter.csr -out inter.pem -notext

leaf() { # name keyspec cn startdate enddate
  name=$1 keyspec=$2 cn=$3
  if [ "$keyspec" = rsa ]; then
    q openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" \
      -addext "subjectAltName=DNS:$cn"
  else
    q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
      -out "$name.csr" -subj "/CN=$cn" -addext "subjectAltName=DNS:$cn"
  fi
  q openssl ca -batch -config ca.cnf -cert inter.pem -keyfile inter.key -extensions v3_leaf \
    -startdate "$4" -enddate "$5" -in "$name.csr" -out "$name.pem" -notext
  cat "$name.pem" inter.pem root.pem > "$name.chain.pem"
}
now=$(date -u +%Y%m%d%H%M%SZ)
later=$(date -u -d '+300 days' +%Y%m%d%H%M%SZ)
leaf leaf-ec ec mx.lab.example "$now" "$later"
leaf leaf-rsa rsa mx.lab.example "$now" "$later"
leaf leaf-wrong ec other.example "$now" "$later"
leaf leaf-expired ec mx.lab.example 20200101000000Z 20210101000000Z
soon=$(date -u -d '+5 days' +%Y%m%d%H%M%SZ)
leaf leaf-soon ec mx.lab.example "$now" "$soon"
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem \
  -days 30 -subj "/CN=mx.lab.example"

hex() { od -An -v -tx1 | tr -d ' \n'; }
for c in root inter leaf-ec leaf-rsa leaf-wrong leaf-expired leaf-soon other; do
  openssl x509 -in "$c.pem" -noout -pubkey | openssl pkey -pubin -outform DER > "$c.spki.der"
  openssl x509 -in "$c.pem" -outform DER > "$c.der"
  sha256sum < "$c.spki.der" | cut -c1-64 > "$c.spki-sha256"
  sha512sum < "$c.spki.der" | cut -c1-128 > "$c.spki-sha512"
  hex < "$c.spki.der" > "$c.spki-hex"
  sha256sum < "$c.der" | cut -c1-64 > "$c.cert-sha256"
done
