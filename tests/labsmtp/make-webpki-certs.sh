#!/bin/sh
# make-webpki-certs.sh DIR: a lab WebPKI for MTA-STS (RFC 8461) tests: a CA
# that stands for the public WebPKI (passed with --ca-file) and the leaves
# the policy servers and the MX hosts of the tests serve. Into DIR:
#   webpki-root.pem/key  "Lab WebPKI Root" (RSA)  -> webpki-inter.pem/key ("Lab WebPKI Intermediate", ECDSA)
#   other-root.pem/key   "Untrusted Root": a CA that is not in the store
# and, for every leaf below, NAME.pem, NAME.key and NAME.chain.pem (leaf +
# intermediate, as a server sends it; the root stays out):
#   leaf NAME ISSUER VALIDITY SAN...   ISSUER: inter | other | self
#                                      VALIDITY: valid | expired | future
#                                      SAN: DNS names ("-" for none: CN only)
# The leaves made by default are listed at the end; a caller may add its own
# with DANESCAN_WEBPKI_LEAVES (a file of "NAME ISSUER VALIDITY SAN..." lines).
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
q() { "$@" >/dev/null 2>&1; }

cat > webpki.cnf <<CNF
[ ca ]
default_ca = lab
[ lab ]
dir = .
database = webpki-index.txt
new_certs_dir = .
serial = webpki-serial
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
: > webpki-index.txt
echo 2000 > webpki-serial

q openssl req -x509 -newkey rsa:2048 -nodes -keyout webpki-root.key -out webpki-root.pem -days 3650 \
  -subj "/CN=Lab WebPKI Root" -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout webpki-inter.key \
  -out webpki-inter.csr -subj "/CN=Lab WebPKI Intermediate"
q openssl ca -batch -config webpki.cnf -cert webpki-root.pem -keyfile webpki-root.key -extensions v3_ca \
  -days 3000 -in webpki-inter.csr -out webpki-inter.pem -notext
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-root.key -out other-root.pem \
  -days 3650 -subj "/CN=Untrusted Root" -addext basicConstraints=critical,CA:true \
  -addext keyUsage=critical,keyCertSign,cRLSign

now=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
later=$(date -u -d '+300 days' +%Y%m%d%H%M%SZ)
leaf() { # NAME ISSUER VALIDITY SAN...
  name=$1 issuer=$2 validity=$3
  shift 3
  cn=$1
  [ "$cn" = - ] && cn=$2
  san=""
  if [ "$1" != - ]; then
    for n in "$@"; do san="${san:+$san,}DNS:$n"; done
  fi
  case $validity in
    valid) start=$now end=$later ;;
    expired) start=20200101000000Z end=20210101000000Z ;;
    future) start=$(date -u -d '+100 days' +%Y%m%d%H%M%SZ) end=$(date -u -d '+400 days' +%Y%m%d%H%M%SZ) ;;
    *) echo "make-webpki-certs: bad validity $validity" >&2; exit 1 ;;
  esac
  set -- -subj "/CN=$cn"
  [ -n "$san" ] && set -- "$@" -addext "subjectAltName=$san"
  if [ "$issuer" = self ]; then
    q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.pem" \
      -days 300 "$@"
    cp "$name.pem" "$name.chain.pem"
    return
  fi
  q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" "$@"
  if [ "$issuer" = inter ]; then
    q openssl ca -batch -config webpki.cnf -cert webpki-inter.pem -keyfile webpki-inter.key -extensions v3_leaf \
      -startdate "$start" -enddate "$end" -in "$name.csr" -out "$name.pem" -notext
    cat "$name.pem" webpki-inter.pem > "$name.chain.pem"
  else
    q openssl ca -batch -config webpki.cnf -cert other-root.pem -keyfile other-root.key -extensions v3_leaf \
      -startdate "$start" -enddate "$end" -in "$name.csr" -out "$name.pem" -notext
    cp "$name.pem" "$name.chain.pem"
  fi
}

# Defaults for the unit-level tests (tests/integration/test_sts_fetch.py,
# test_probe_pkix.sh): names under .test.
leaf mx-valid inter valid mx.pkix.test
leaf mx-wildcard inter valid '*.wild.pkix.test'
leaf mx-expired inter expired mx.pkix.test
leaf mx-future inter future mx.pkix.test
leaf mx-self self valid mx.pkix.test
leaf mx-untrusted other valid mx.pkix.test
leaf mx-cn-only inter valid - mx.pkix.test
leaf mx-partial inter valid 'm*.pkix.test'
leaf sts-valid inter valid mta-sts.valid.test mta-sts.chunked.test mta-sts.close.test mta-sts.redirect.test \
  mta-sts.notfound.test mta-sts.html.test mta-sts.notype.test mta-sts.charset.test mta-sts.oversize.test \
  mta-sts.oversizechunked.test mta-sts.endless.test mta-sts.drip.test mta-sts.hugeheaders.test \
  mta-sts.exact.test mta-sts.short.test mta-sts.slow.test mta-sts.garbage.test mta-sts.server-error.test \
  mta-sts.temp-redirect.test mta-sts.a.test mta-sts.b.test mta-sts.c.test
leaf sts-expired inter expired mta-sts.expired.test
leaf sts-untrusted other valid mta-sts.untrusted.test
leaf sts-self self valid mta-sts.selfsigned.test
if [ -n "${DANESCAN_WEBPKI_LEAVES:-}" ]; then
  while read -r line; do
    case $line in ''|'#'*) continue ;; esac
    # shellcheck disable=SC2086  # the line is the argument list
    leaf $line
  done < "$DANESCAN_WEBPKI_LEAVES"
fi
