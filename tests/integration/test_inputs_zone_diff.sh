#!/usr/bin/env bash
# Differential test of the zone reader: for randomly generated TLD-like zones
# (every syntax feature ldns also accepts: relative/absolute/omitted owners,
# mixed case, parentheses across lines, comments, quoted strings with ';' and
# '(', CRLF ends, DS/RRSIG/NSEC/glue, deeper and out-of-zone names), the names
# `danescan inputs` prints must equal the owners of IN NS records one label
# below the origin in `ldns-read-zone`'s canonical output, lower-cased, kept
# when they follow the hostname rule. Plain and gzip'd input must agree.
set -euo pipefail
DANESCAN=${DANESCAN:?set DANESCAN to the danescan binary}
command -v ldns-read-zone >/dev/null || { echo "ldns-read-zone missing (ldnsutils)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

generate() { # seed tld
  python3 - "$1" "$2" <<'PY'
import random, sys
seed, tld = int(sys.argv[1]), sys.argv[2]
r = random.Random(seed)
out = []
def end():
    return "\r\n" if r.random() < 0.2 else "\n"
def case(s):
    return "".join(c.upper() if r.random() < 0.2 else c for c in s)
def label():
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    n = r.randint(1, 20)
    s = "".join(r.choice(chars) for _ in range(n))
    if n > 2 and r.random() < 0.2:
        s = s[0] + "-" + s[2:]
    if r.random() < 0.03:
        s = "xn--" + s
    if r.random() < 0.02:
        s = s + "_x"          # invalid for mail: must not be printed
    return s
relative = r.random() < 0.5
if relative:
    out.append(f"$ORIGIN {tld}." + end())
out.append("$TTL 3600" + end())
owner_apex = "@" if relative else f"{tld}."
out.append(f"{owner_apex} 86400 IN SOA a.nic.{tld}. host.nic.{tld}. ( 1 ; serial" + end())
out.append("   7200 900 1209600 3600 )" + end())
out.append(f"{owner_apex} 86400 IN NS a.nic.{tld}." + end())
out.append(f"  86400 IN NS b.nic.{tld}." + end())
names = [label() for _ in range(r.randint(200, 2000))]
for i, n in enumerate(names):
    owner = case(n) if relative and r.random() < 0.5 else case(f"{n}.{tld}.")
    ttl = r.choice(["", "86400 ", "1d ", "3600 "])
    cls = r.choice(["IN ", "in ", ""])
    form = r.random()
    if form < 0.1:
        out.append(f"{owner} ( {ttl}{cls}NS ns1.example.net. )" + end())
    elif form < 0.2:
        out.append(f"{owner} {ttl}{cls}NS (" + end() + "   ns1.example.net. ) ; split" + end())
    else:
        out.append(f"{owner}\t{ttl}{cls}NS\tns1.{n}.{tld}." + end())
    if r.random() < 0.5:
        out.append(f"\t{ttl}{cls}NS\tns2.example.org. ; omitted owner" + end())
    if r.random() < 0.2:
        out.append(f"{owner} 3600 IN DS {r.randint(1, 65535)} 13 2 ( {r.getrandbits(128):032x}" + end())
        out.append(f"   {r.getrandbits(128):032x} )" + end())
        out.append(f"{owner} 3600 IN RRSIG DS 13 2 3600 20250101000000 20240101000000 7 {tld}. ( abcd" + end())
        out.append("  efgh )" + end())
    if r.random() < 0.1:
        out.append(f"ns1.{n}.{tld}. 3600 IN A 192.0.2.{r.randint(1, 254)}" + end())
    if r.random() < 0.05:
        out.append(f"{n}.{tld}. 3600 IN TXT \"a ; (b\" \"c\\\"d\"" + end())
    if r.random() < 0.05:
        out.append(f"deep.{n}.{tld}. 3600 IN NS ns.example.net." + end())
    if r.random() < 0.03:
        out.append(f"{n}.elsewhere. 3600 IN NS ns.example.net." + end())
    if r.random() < 0.05:
        out.append("; comment line with \"quote and (" + end())
    if r.random() < 0.03:
        out.append(end())
    if r.random() < 0.03 and i > 0:   # a delegation seen again, not adjacent
        out.append(f"{names[r.randrange(i)]}.{tld}. 3600 IN NS ns9.example.net." + end())
text = "".join(out)
if r.random() < 0.5:
    text = text.rstrip("\r\n")        # no final newline
sys.stdout.write(text)
PY
}

failures=0
for seed in 1 2 3 4 5 6 7 8; do
  tld=$(printf 'tld%d' "$seed")
  zone="$work/z$seed.zone"
  generate "$seed" "$tld" > "$zone"
  "$DANESCAN" inputs "$zone" 2>"$work/err" | sort > "$work/danescan.txt"
  ldns-read-zone "$zone" \
    | awk -v apex="$tld." 'BEGIN { IGNORECASE = 0 }
        toupper($3) == "IN" && toupper($4) == "NS" {
          owner = tolower($1)
          rest = substr(owner, index(owner, ".") + 1)
          if (rest == apex && owner != apex) print substr(owner, 1, length(owner) - 1)
        }' \
    | grep -E '^[a-z0-9]([a-z0-9-]*[a-z0-9])?\.[a-z0-9.-]+$' | sort -u > "$work/ldns.txt"
  count=$(wc -l < "$work/ldns.txt")
  if ! diff -u "$work/ldns.txt" "$work/danescan.txt" > "$work/diff"; then
    echo "FAIL seed $seed: danescan and ldns-read-zone disagree"; head -20 "$work/diff"
    failures=$((failures + 1))
  elif [ "$count" -lt 100 ]; then
    echo "FAIL seed $seed: only $count delegations (generator broken?)"; failures=$((failures + 1))
  else
    echo "ok seed $seed: $count delegations"
  fi
  if grep -v 'invalid name' "$work/err" | grep -q .; then
    echo "FAIL seed $seed: unexpected diagnostics:"; cat "$work/err"; failures=$((failures + 1))
  fi
  gzip -c "$zone" > "$work/z.gz"
  if ! "$DANESCAN" inputs "$work/z.gz" 2>/dev/null | sort | cmp -s - "$work/danescan.txt"; then
    echo "FAIL seed $seed: gzip'd input differs"; failures=$((failures + 1))
  fi
done
[ "$failures" -eq 0 ] && echo "PASS" || { echo "$failures failures"; exit 1; }
