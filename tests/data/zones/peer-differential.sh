#!/usr/bin/env bash
# peer-differential.sh DANESCAN FILE...: for each zone file, the delegations
# danescan reads (`inputs`, auto-detected format, no --origin) against the
# peer's (peer-delegations.sh with the file's SOA owner as zone name: BIND's
# named-compilezone, else ldns-read-zone); one line per file: SAME, DIFF
# (with the first names only one side has), NOSOA (no SOA found: no zone
# name to give the peer), NOORIGIN (the SOA owner is relative, there is no
# $ORIGIN and the file name names no zone; when it does, that name is given
# to both as --origin / the zone name) or PEERREFUSED. The issue 16 run:
#   git -C MIRROR ls-tree -r --name-only HEAD | grep -E '(\.zone|\.db|\.signed|/db\.[^/]*|zonefile[^/]*)$'
# over the snapshots of NSD, Knot DNS, PowerDNS, ldns and simdzone, each file
# extracted with `git show`, then this script over all of them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
danescan=$1
shift
soa_owner() { # the first SOA's owner, "-" when it is relative and no $ORIGIN is given
  awk '{ sub(/;.*/, "") }
       /^\$ORIGIN/ { origin = $2; next }
       NF == 0 { next }
       { inside = depth > 0; depth += gsub(/\(/, "(") - gsub(/\)/, ")") }
       inside { next }
       /^[^ \t]/ { last = $1 }
       { for (i = 1; i <= 5 && i <= NF; i++) if (toupper($i) == "SOA") {
           o = last
           if (o == "@" || o == "") o = origin
           else if (o !~ /\.$/) o = origin == "" ? "" : o "." origin
           print (o == "" ? "-" : o); exit } }' "$1"
}
for f in "$@"; do
  origin=$(soa_owner "$f")
  if [ -z "$origin" ]; then echo "NOSOA $f"; continue; fi
  origin_option=()
  if [ "$origin" = - ]; then
    # The zone name comes from the loader: guess it from the file name
    # (example.com.zone, db.example.com, N.example.com.signed), given to both.
    guess=$(basename "$f" | sed -E 's/^[0-9]+\.//; s/^db\.//; s/\.(zone|db|signed|zone\.signed|db\.signed)$//; s/\.$//')
    case "$guess" in
      *.*|com|net|org|nl|se|cz) origin="$guess." origin_option=(--origin "$guess") ;;
      *) echo "NOORIGIN $f (a relative SOA owner and no \$ORIGIN, and the file name names no zone)"; continue ;;
    esac
  fi
  peer=$("$here/peer-delegations.sh" "$f" "$origin" bind 2> /dev/null) ||
    peer=$("$here/peer-delegations.sh" "$f" "$origin" ldns 2> /dev/null) || { echo "PEERREFUSED $f $origin"; continue; }
  ours=$(timeout 60 "$danescan" inputs "${origin_option[@]}" "$f" 2> /dev/null | sort -u)
  if [ "$peer" = "$ours" ]; then
    echo "SAME $f $origin${origin_option[*]:+ (given)} $(printf '%s' "$peer" | grep -c .)"
  else
    echo "DIFF $f $origin peer-only: $(comm -23 <(echo "$peer") <(echo "$ours") | head -3 | tr '\n' ' ')" \
      "danescan-only: $(comm -13 <(echo "$peer") <(echo "$ours") | head -3 | tr '\n' ' ')"
  fi
done
