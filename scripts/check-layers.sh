#!/usr/bin/env bash
# Fails when a source file includes from a folder its layer may not use (docs: the README's
# "Layout" section). Usage: scripts/check-layers.sh [ROOT]   (default: the repository)
#
# A folder may include its own files and those of the folders listed for it; anything else
# of ours is a wrong-way dependency (the agent reaching into the API server, the store into
# the object model, the base layer into anything).
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}

declare -A allowed=(
  [base]=""
  [net]="base"
  [raftstore]="base"
  [api]="base"
  [scheduler]="base"
  [controlplane]="base net raftstore api scheduler"
  [agent]="base net api"
  [cmd]="base net raftstore api scheduler controlplane agent"
  [test]="base net raftstore api scheduler controlplane agent cmd test"
  [bench]="base net raftstore api scheduler controlplane agent cmd test"
)
ours=" ${!allowed[*]} "

bad=0
checked=0
for layer in "${!allowed[@]}"; do
  [[ -d "$root/$layer" ]] || continue
  while IFS= read -r -d '' file; do
    checked=$((checked + 1))
    # Lines like: #include "agent/runtime.h"
    while IFS=: read -r line target; do
      dir=${target%%/*}
      [[ "$target" == */* ]] || continue          # a file beside this one
      [[ "$ours" == *" $dir "* ]] || continue      # not one of our folders
      [[ "$dir" == "$layer" ]] && continue
      [[ " ${allowed[$layer]} " == *" $dir "* ]] && continue
      echo "${file#"$root"/}:$line: $layer/ may not include \"$target\" (it may use: ${allowed[$layer]:-nothing of ours})" >&2
      bad=$((bad + 1))
    done < <(grep -n -o -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]+"' "$file" |
             sed -E 's/^([0-9]+):.*"([^"]+)"/\1:\2/')
  done < <(find "$root/$layer" -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.cc' \) -print0)
done

if ((bad > 0)); then
  echo "check-layers: $bad include(s) cross a layer the wrong way" >&2
  exit 1
fi
echo "check-layers: $checked files, every include within its layer's rules"
