#!/usr/bin/env bash
# peer-delegations.sh FILE ORIGIN [bind|ldns]: the delegations of a zone
# file as BIND's named-compilezone reads it (run from the file's directory,
# where BIND resolves $INCLUDE), or ldns-read-zone for a file BIND refuses;
# one per line, sorted: owners of NS records one label
# below ORIGIN, lower case, no trailing dot, wildcards and names that fail
# danescan's hostname rule left out. Writes tests/data/zones/*.expected
# with --write. Needs named-compilezone (Debian: bind9-utils) and
# ldns-read-zone (Debian: ldnsutils).
set -euo pipefail
if [ "${1:-}" = --write ]; then
  dir=$(cd "$(dirname "$0")" && pwd)
  grep -v '^#' "$dir/MANIFEST" | while read -r file origin peer; do
    [ -n "$file" ] || continue
    "$0" "$dir/$file" "$origin" "$peer" > "$dir/$file.expected"
  done
  exit 0
fi
file=$1 origin=$2 peer=${3:-bind}
if [ "$peer" = ldns ]; then
  read_zone() { ldns-read-zone "$(basename "$file")"; }
else
  read_zone() { named-compilezone -i none -k ignore -o - "$origin" "$(basename "$file")"; }
fi
out=$(cd "$(dirname "$file")" && read_zone 2> /dev/null) || {
  echo "peer-delegations.sh: $peer refused $file" >&2
  exit 1
}
printf '%s\n' "$out" | awk -v origin="$origin" '
  BEGIN { origin = tolower(origin); sub(/\.$/, "", origin) }
  $4 == "NS" {
    name = tolower($1); sub(/\.$/, "", name)
    suffix = "." origin
    if (origin == "") {   # the root zone: its delegations are the TLDs
      if (name != "" && name !~ /[.*]/) print name
    } else if (length(name) > length(suffix) && substr(name, length(name) - length(suffix) + 1) == suffix) {
      label = substr(name, 1, length(name) - length(suffix))
      if (label !~ /[.*]/) print name
    }
  }' | grep -E '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$' | sort -u || true
