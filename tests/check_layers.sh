#!/bin/bash
# Checks the layering of scanner/: a .c or .h file may include project
# headers ("folder/file.h") of its own folder and of folders of lower layers
# only. Folders at the same layer are separate modules and may not include
# each other; a folder missing from the table has no layer, and including it
# (or being in it) is a violation too.
#
#   layer 0  util/                 6  pipeline/  db/
#         1  record/               7  store/
#         2  input/  dns/  tls/    8  queue/  report/
#         3  smtp/ (uses tls/)     9  run/
#         4  probe/               10  cli/
#         5  sts/ (uses probe/)   11  main.c (the top of scanner/)
#
# usage: tests/check_layers.sh [SCANNER_DIR]   (default: the scanner/ beside tests/)
# Prints 'FILE:LINE: includes HEADER (layer N) from layer M' per violation and
# a count; exits 1 on any violation, 0 when there is none, 2 on a usage error.
# An include is resolved as the compiler does: beside the including file when
# there is such a file ("x.h", "../dns/x.h"), else from the top of scanner/.
set -euo pipefail

declare -A LAYER=(
  [util]=0 [record]=1 [input]=2 [dns]=2 [tls]=2 [smtp]=3 [probe]=4 [sts]=5
  [pipeline]=6 [db]=6 [store]=7 [queue]=8 [report]=8 [run]=9 [cli]=10 [main.c]=11
)

if [ $# -gt 1 ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
if [ $# -eq 1 ]; then
  dir=${1%/}
else
  dir=$(realpath --relative-to=. "$(dirname "$(readlink -f "$0")")/../scanner")
fi
if [ ! -d "$dir" ]; then
  echo "check_layers: $dir: not a directory" >&2
  exit 2
fi
root=$(realpath "$dir")

describe() { if [ -n "${LAYER[$1]+x}" ]; then printf 'layer %s' "${LAYER[$1]}"; else printf 'unknown layer'; fi; }

violations=0
files=0
includes=0
while IFS= read -r -d '' file; do
  files=$((files + 1))
  rel=${file#"$dir"/}
  own=${rel%%/*} # the layer unit: the first folder, or the file itself at the top (main.c)
  if [ -z "${LAYER[$own]+x}" ]; then
    case $rel in */*) own=$own/ ;; esac
    echo "$file:1: $own is not in the layer table (unknown layer)"
    violations=$((violations + 1))
    continue
  fi
  while IFS=: read -r line header; do
    includes=$((includes + 1))
    # As the compiler looks: beside the including file, then from the top
    # of scanner/ (the include path). target: the header's path in scanner/.
    beside=${file%/*}/$header
    if [ -e "$beside" ]; then
      target=$(realpath -m --relative-to="$root" "$beside")
    elif [[ $header == ./* || $header == ../* ]]; then
      target=$(realpath -m --relative-to="$root" "$root/$header")
    else
      target=$header
    fi
    unit=${target%%/*}
    if [ "$unit" = "$own" ]; then continue; fi
    if [ -n "${LAYER[$unit]+x}" ] && [ "${LAYER[$unit]}" -lt "${LAYER[$own]}" ]; then continue; fi
    echo "$file:$line: includes $header ($(describe "$unit")) from layer ${LAYER[$own]}"
    violations=$((violations + 1))
  done < <(grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]+"' "$file" \
             | sed -E 's/^([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1:\2/' || true)
done < <(find "$dir" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)

if [ "$violations" -gt 0 ]; then
  echo "$violations layering violations ($files files, $includes project includes)"
  exit 1
fi
echo "0 layering violations ($files files, $includes project includes)"
