#!/usr/bin/env bash
# Runs the same put load against a three-member etcd 3.4 (Debian's etcd-server, fsync on,
# as in Tug's store) and a three-member Tug, all on 127.0.0.1, and prints both tables:
# ops/s, p50/p99 latency and the servers' CPU time per write at 1, 16 and 64 clients.
#
#   bench/compare-etcd.sh [SECONDS]        (default 10 s per row)
#
# Needs a built tree (make build). Installs etcd-server if it is missing. Cleans up the
# processes it started (by PID) and its temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
build=${BUILD:-build}
load=$build/bench/kv_load
tugd=$build/cmd/tugd
[[ -x $load && -x $tugd ]] || { echo "build first: make build" >&2; exit 1; }
if ! command -v etcd >/dev/null 2>&1; then
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
fi
etcd_bin=$(command -v etcd)

tmp=$(mktemp -d /tmp/tug-vs-etcd.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_http() {  # url: waits until it answers, up to 20 s
  for _ in $(seq 1 200); do
    curl -s -o /dev/null -X POST "$1" -d '{}' && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2; return 1
}

echo "== etcd $("$etcd_bin" --version | head -1 | awk '{print $3}') (3 members, fsync on)"
cluster=""
for i in 1 2 3; do cluster+="${cluster:+,}e$i=http://127.0.0.1:$((12379 + 10*i + 1))"; done
epids=()
for i in 1 2 3; do
  c=$((12379 + 10*i)); p=$((c + 1))
  ETCD_UNSUPPORTED_ARCH=${ETCD_UNSUPPORTED_ARCH:-} "$etcd_bin" --name "e$i" --data-dir "$tmp/e$i" \
    --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
    --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
    --initial-cluster "$cluster" --initial-cluster-state new --log-level error >"$tmp/e$i.log" 2>&1 &
  pids+=($!); epids+=($!)
done
wait_http "http://127.0.0.1:12389/v3/kv/range"
"$load" --label etcd --endpoints 127.0.0.1:12389 --clients 1,16,64 --seconds "$secs" \
  --pids "$(IFS=,; echo "${epids[*]}")"
for p in "${epids[@]}"; do kill -9 "$p"; wait "$p" 2>/dev/null || true; done

echo "== tug (3 members, fsync on)"
cluster=""
for i in 1 2 3; do cluster+="${cluster:+,}cp$i=127.0.0.1:$((17200 + i))"; done
tpids=()
for i in 1 2 3; do
  "$tugd" --name "cp$i" --data-dir "$tmp/cp$i" --peer-addr "127.0.0.1:$((17200 + i))" \
    --api-addr "127.0.0.1:$((17100 + i))" --initial-cluster "$cluster" --log-level warn >"$tmp/cp$i.log" 2>&1 &
  pids+=($!); tpids+=($!)
done
wait_http "http://127.0.0.1:17101/v3/kv/range"
for _ in $(seq 1 100); do curl -s 127.0.0.1:17101/readyz | grep -q '"ready":true' && break; sleep 0.1; done
# The cluster token is saved in each data dir once the first leader has made it.
for _ in $(seq 1 100); do [ -s "$tmp/cp1/token" ] && break; sleep 0.1; done
"$load" --label tug --endpoints 127.0.0.1:17101 --clients 1,16,64 --seconds "$secs" \
  --token-file "$tmp/cp1/token" \
  --pids "$(IFS=,; echo "${tpids[*]}")"
