#!/usr/bin/env bash
# Creates per second through the resource API: a three-member Tug on 127.0.0.1, C clients
# (1, 16, 64) each POSTing Pods on its own keep-alive connection, spread over the members.
# Prints ops/s, p50/p99 latency and the members' CPU time per create, and the same for raw
# store puts of a similar size for comparison.
#
#   bench/api-creates.sh [SECONDS] [CLIENTS]   (default 10 s per row; 1,16,64 clients)
#
# TUGD_ARGS adds flags to every member (e.g. TUGD_ARGS="--snapshot-entries 1000000").
# Needs a built tree (make build). Cleans up the processes it started (by PID) and its
# temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
clients=${2:-1,16,64}
build=${BUILD:-build}
load=$build/bench/kv_load
tugd=$build/cmd/tugd
[[ -x $load && -x $tugd ]] || { echo "build first: make build" >&2; exit 1; }

tmp=$(mktemp -d /tmp/tug-api-creates.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== tug (3 members, fsync on)"
cluster=""
for i in 1 2 3; do cluster+="${cluster:+,}cp$i=127.0.0.1:$((17200 + i))"; done
for i in 1 2 3; do
  "$tugd" --name "cp$i" --data-dir "$tmp/cp$i" --peer-addr "127.0.0.1:$((17200 + i))" \
    --api-addr "127.0.0.1:$((17100 + i))" --initial-cluster "$cluster" --log-level warn \
    ${TUGD_ARGS:-} >"$tmp/cp$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 200); do curl -s 127.0.0.1:17101/readyz | grep -q '"ready":true' && break; sleep 0.1; done
# The cluster token is saved in each data dir once the first leader has made it.
for _ in $(seq 1 100); do
  [ -s "$tmp/cp1/token" ] && [ -s "$tmp/cp2/token" ] && [ -s "$tmp/cp3/token" ] && break
  sleep 0.1
done
endpoints=127.0.0.1:17101,127.0.0.1:17102,127.0.0.1:17103
echo "-- Pod creates (POST /api/v1/namespaces/default/pods)"
"$load" --label create --endpoints "$endpoints" --clients "$clients" --seconds "$secs" \
  --token-file "$tmp/cp1/token" --workload create-pods --pids "$(IFS=,; echo "${pids[*]}")"
echo "-- raw store puts (POST /v3/kv/put)"
"$load" --label put --endpoints "$endpoints" --clients "$clients" --seconds "$secs" \
  --token-file "$tmp/cp1/token" --workload put --pids "$(IFS=,; echo "${pids[*]}")"
