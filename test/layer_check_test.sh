#!/usr/bin/env bash
# The layer check must pass on the tree and fail on a wrong-way include: an agent file that
# includes the API server, and a base file that includes the object model.
set -euo pipefail
src=$1
check="$src/scripts/check-layers.sh"
bash "$check" "$src" >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/agent" "$tmp/base" "$tmp/api"
printf '#include "base/status.h"\n#include "api/node.h"\n' >"$tmp/agent/ok.cpp"
printf '#include "controlplane/registry.h"\n' >"$tmp/agent/bad.cpp"
printf '#include <string>\n#include "api/node.h"\n' >"$tmp/base/bad.h"
if out=$(bash "$check" "$tmp" 2>&1); then
  echo "FAIL: the check passed a tree with wrong-way includes" >&2
  exit 1
fi
for want in 'agent/bad.cpp:1: agent/ may not include "controlplane/registry.h"' \
            'base/bad.h:2: base/ may not include "api/node.h"' \
            '2 include(s) cross a layer the wrong way'; do
  if [[ "$out" != *"$want"* ]]; then
    echo "FAIL: expected '$want' in: $out" >&2
    exit 1
  fi
done
echo "layer check: passes the tree, refuses wrong-way includes"
