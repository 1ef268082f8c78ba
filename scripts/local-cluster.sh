#!/usr/bin/env bash
# A local Tug cluster: three tugd and three tug-agent on this machine. As root, each runs in a
# network namespace of its own, with its own address on a bridge (so a member can be cut off
# by taking its link down); otherwise all run on 127.0.0.1 ports. `make demo`, `make down`
# and the end-to-end tests use it.
#
#   scripts/local-cluster.sh [options] COMMAND
#
# Commands:
#   up                 start the cluster; waits for a leader and three Ready nodes
#   down [--purge]     stop exactly what `up` started (by PID: members, agents, and the
#                      containers running from the cluster's directory), remove the
#                      namespaces and the bridge; --purge also removes the directory
#   status             which processes run
#   start NAME         start a member (cp1..cp3) or agent (node-a..node-c) again, same data
#   stop NAME          SIGTERM, then SIGKILL after 10 s
#   kill NAME [SIG]    send SIG (default KILL) and wait until it is gone
#   isolate NAME       take NAME's link down (namespaces only); `heal NAME` brings it back
#   crash NODE         a machine that loses power: SIGKILL the agent and every container it
#                      runs, and take its link down (namespaces only; its pods' addresses then
#                      time out instead of refusing)
#   exec NAME CMD...   run CMD where NAME runs (inside its namespace)
#   pid NAME | addr NAME | servers | config | kubeconfig
#
# Images: `up` builds small images from this machine's files (scripts/images.sh: busybox,
# tug-web, redis, and the seed's web-server-image and database-image), starts a registry with
# them (netns: on the bridge, 10.213.N.1:5000; loopback: 127.0.0.1:B+400) and gives the
# agents DIR/registries.yaml, which makes that registry docker.io's mirror: `image: redis:7`
# and the seed's manifest pull from it, with no internet. Skipped, with a note, where
# docker-registry, umoci or skopeo is missing. Image-based pods get addresses from their
# node's range (a /24 of 10.244.0.0/16 the control plane gives each Node, its spec.podCIDR)
# on a bridge of the node's. Pods reach each other across nodes by pod IP (each node routes
# the others' ranges), every node serves every Service's cluster IP and NodePort, and pods
# resolve <service>.<namespace>.svc.cluster.local; from a node, `exec node-a curl POD_IP:PORT`
# reaches a pod, and from this machine NODE_ADDR:NODE_PORT reaches a NodePort Service.
#
# Members also serve the API over HTTPS (netns: port 7443; loopback: B+301..B+303) with a
# certificate `up` makes (DIR/tls: a CA and a server certificate naming every member's
# address); DIR/kubeconfig points kubectl at cp1 with it.
#
# Options (before the command):
#   --dir DIR          the cluster's directory: data, logs, PIDs, token, tugctl config
#                      (default .tug-local in the current directory)
#   --bin DIR          where tugd, tug-agent and tugctl are (default build/cmd)
#   --net MODE         netns, loopback, or auto (default: netns when root, else loopback)
#   --prefix P         names of namespaces and links, up to 5 characters (default tug)
#   --subnet N         namespaces: addresses 10.213.N.0/24 (default 0)
#   --port-base B      loopback: APIs on B+1..B+3, peers B+101.., agents B+201.., HTTPS
#                      B+301.. (default 7100)
#   --node-grace-ms MS passed to every tugd (default 5000)
set -euo pipefail

SCRIPTS=$(cd "$(dirname "$0")" && pwd)
DIR=.tug-local
BIN=build/cmd
NET=auto
PREFIX=tug
SUBNET=0
PORT_BASE=7100
GRACE_MS=5000
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --dir) DIR=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --net) NET=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --subnet) SUBNET=$2; shift 2 ;;
    --port-base) PORT_BASE=$2; shift 2 ;;
    --node-grace-ms) GRACE_MS=$2; shift 2 ;;
    *) echo "local-cluster: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $# -ge 1 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
CMD=$1
shift

die() { echo "local-cluster: $*" >&2; exit 1; }

MEMBERS=(cp1 cp2 cp3)
AGENTS=(node-a node-b node-c)
ALL=("${MEMBERS[@]}" "${AGENTS[@]}")

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
STATE=$DIR/cluster.env

# --- the cluster's layout: chosen at `up`, read back by every other command -----------------

index_of() {  # cp1 -> 1 ... node-c -> 6
  local i=1
  for n in "${ALL[@]}"; do
    [[ $n == "$1" ]] && { echo $i; return; }
    i=$((i + 1))
  done
  die "no member or agent named \"$1\" (known: ${ALL[*]})"
}

layout() {
  if [[ $MODE == netns ]]; then
    for n in "${ALL[@]}"; do
      local i; i=$(index_of "$n")
      local host=$((i <= 3 ? 10 + i : 17 + i))  # cp1..3: .11-.13, node-a..c: .21-.23
      eval "ADDR_${n//-/_}=10.213.$SUBNET.$host"
      eval "API_${n//-/_}=10.213.$SUBNET.$host:7101"
      eval "PEER_${n//-/_}=10.213.$SUBNET.$host:7201"
      eval "AGENT_${n//-/_}=10.213.$SUBNET.$host:7301"
      eval "TLS_${n//-/_}=10.213.$SUBNET.$host:7443"
    done
  else
    for n in "${ALL[@]}"; do
      local i; i=$(index_of "$n")
      eval "ADDR_${n//-/_}=127.0.0.1"
      eval "API_${n//-/_}=127.0.0.1:$((PORT_BASE + i))"
      eval "PEER_${n//-/_}=127.0.0.1:$((PORT_BASE + 100 + i))"
      eval "AGENT_${n//-/_}=127.0.0.1:$((PORT_BASE + 200 + i))"
      eval "TLS_${n//-/_}=127.0.0.1:$((PORT_BASE + 300 + i))"
    done
  fi
}

var() { local v="${1}_${2//-/_}"; echo "${!v}"; }

load_state() {
  [[ -f $STATE ]] || die "no cluster in $DIR (run: $0 --dir $DIR up)"
  # shellcheck disable=SC1090
  source "$STATE"
  layout
}

servers() {
  local s=""
  for m in "${MEMBERS[@]}"; do s+="${s:+,}http://$(var API "$m")"; done
  echo "$s"
}

netns_of() { echo "$PREFIX-$1"; }
host_link() { echo "${PREFIX}h$(index_of "$1")"; }

# --- processes, by PID and start time --------------------------------------------------------

start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

alive() {  # a live process (not a zombie) that is still the one we started
  local pid=$1 st=$2
  [[ -r /proc/$pid/stat ]] || return 1
  [[ $(start_time "$pid") == "$st" ]] || return 1
  [[ $(awk '{print $3}' "/proc/$pid/stat") != Z ]]
}

pid_of() {  # prints "PID STARTTIME" of NAME if it runs
  local f=$DIR/pids/$1
  [[ -f $f ]] || return 1
  local pid st
  read -r pid st < "$f"
  alive "$pid" "$st" || return 1
  echo "$pid $st"
}

launch() {  # NAME ARGS...: starts ARGS (in NAME's namespace), records its PID
  local name=$1
  shift
  mkdir -p "$DIR/logs" "$DIR/pids"
  local pre=()
  # nsenter, not `ip netns exec`: that one also remounts /sys, which hides the cgroup file
  # systems an agent needs for limits and runc.
  [[ $MODE == netns ]] && pre=(nsenter "--net=/run/netns/$(netns_of "$name")" --)
  # setsid: the process leads its own session, so a terminal's Ctrl-C does not reach it.
  setsid "${pre[@]}" "$@" >> "$DIR/logs/$name.log" 2>&1 < /dev/null &
  local pid=$!
  local st=""
  for _ in $(seq 50); do
    st=$(start_time "$pid")
    [[ -n $st ]] && break
    sleep 0.02
  done
  echo "$pid $st" > "$DIR/pids/$name"
}

start_one() {
  local n=$1
  pid_of "$n" > /dev/null && die "$n already runs"
  local initial=""
  for m in "${MEMBERS[@]}"; do initial+="${initial:+,}$m=$(var PEER "$m")"; done
  if [[ " ${MEMBERS[*]} " == *" $n "* ]]; then
    launch "$n" "$BIN/tugd" --name "$n" --data-dir "$DIR/$n" \
      --peer-addr "$(var PEER "$n")" --api-addr "$(var API "$n")" \
      --initial-cluster "$initial" --token-file "$DIR/token" --node-grace-ms "$GRACE_MS" \
      --tls-addr "$(var TLS "$n")" --tls-cert "$DIR/tls/server-chain.crt" --tls-key "$DIR/tls/server.key"
  else
    local registries=()
    [[ -f $DIR/registries.yaml ]] && registries=(--registry-config "$DIR/registries.yaml")
    # A bridge per node (in loopback mode all agents share the host's network); the pod range
    # is the one the control plane gives the node (tugd --cluster-cidr).
    local i; i=$(index_of "$n")
    launch "$n" "$BIN/tug-agent" --name "$n" --data-dir "$DIR/$n" --server "$(servers)" \
      --addr "$(var AGENT "$n")" --token-file "$DIR/token" --labels "tug.io/demo=true" \
      --pod-bridge "tugbr${SUBNET}x$i" "${registries[@]}"
  fi
}

signal_one() {  # NAME SIG: signals NAME and waits (10 s) until it is gone
  local n=$1 sig=$2 line pid st
  line=$(pid_of "$n") || return 0
  read -r pid st <<< "$line"
  kill "-$sig" "$pid" 2> /dev/null || true
  for _ in $(seq 500); do
    alive "$pid" "$st" || return 0
    sleep 0.02
  done
  return 1
}

stop_one() {
  signal_one "$1" TERM || signal_one "$1" KILL || die "cannot stop $1"
}

# Every process running from the cluster's directory (an agent's containers and their
# tug-shims: their command lines or working directories are under it), but not this script.
dir_processes() {
  local p
  for p in /proc/[0-9]*; do
    local pid=${p#/proc/}
    [[ $pid == "$$" || $pid == "$PPID" ]] && continue
    local cwd cmd
    cwd=$(readlink "$p/cwd" 2> /dev/null || true)
    cmd=$(tr '\0' ' ' 2> /dev/null < "$p/cmdline" || true)
    if [[ $cwd == "$DIR"/* || $cmd == *"$DIR/"* ]]; then
      [[ $(awk '{print $3}' "$p/stat" 2> /dev/null) == Z ]] || echo "$pid"
    fi
  done
}

ctl() { "$BIN/tugctl" --config "$DIR/config" "$@"; }

# A CA and a server certificate it signs, naming every member's address, for the members'
# HTTPS listeners. server-chain.crt is the server's certificate followed by the CA's, from
# which a member tells clients what to trust.
make_certs() {
  local t=$DIR/tls san="DNS:localhost,IP:127.0.0.1"
  for m in "${MEMBERS[@]}"; do san+=",IP:$(var ADDR "$m")"; done
  rm -rf "$t"
  mkdir -p "$t"
  chmod 700 "$t"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$t/ca.key" -out "$t/ca.crt" -days 3650 \
    -subj "/CN=tug-local-ca" 2> "$t/openssl.log" || die "openssl: $(cat "$t/openssl.log")"
  openssl req "${ec[@]}" -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=tugd" \
    2>> "$t/openssl.log" || die "openssl: $(cat "$t/openssl.log")"
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
    "$san" > "$t/server.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 3650 -extfile "$t/server.ext" \
    -out "$t/server.crt" 2>> "$t/openssl.log" || die "openssl: $(cat "$t/openssl.log")"
  cat "$t/server.crt" "$t/ca.crt" > "$t/server-chain.crt"
}

# --- the network -----------------------------------------------------------------------------

net_up() {
  local br=${PREFIX}br
  ip link show "$br" > /dev/null 2>&1 && ip link del "$br"
  ip link add "$br" type bridge
  ip addr add "10.213.$SUBNET.1/24" dev "$br"
  ip link set "$br" up
  for n in "${ALL[@]}"; do
    local ns i
    ns=$(netns_of "$n")
    i=$(index_of "$n")
    ip netns del "$ns" 2> /dev/null || true
    ip link del "${PREFIX}h$i" 2> /dev/null || true
    ip netns add "$ns"
    ip link add "${PREFIX}h$i" type veth peer name "${PREFIX}n$i"
    ip link set "${PREFIX}n$i" netns "$ns"
    ip link set "${PREFIX}h$i" master "$br" up
    ip -n "$ns" link set "${PREFIX}n$i" name eth0
    ip -n "$ns" addr add "$(var ADDR "$n")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
}

net_down() {
  for n in "${ALL[@]}"; do
    local ns
    ns=$(netns_of "$n")
    if ip netns list 2> /dev/null | grep -qw "$ns"; then
      # Anything still in the namespace is ours.
      for pid in $(ip netns pids "$ns" 2> /dev/null); do kill -KILL "$pid" 2> /dev/null || true; done
      ip netns del "$ns" 2> /dev/null || true
    fi
    # Deleting a namespace frees its links later, in the background; deleting our end of the
    # pair now frees both at once, so an `up` right after finds the names free.
    ip link del "$(host_link "$n")" 2> /dev/null || true
  done
  ip link del "${PREFIX}br" 2> /dev/null || true
}

wait_for() {  # SECONDS WHAT CMD...: polls CMD every 0.2 s
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" > /dev/null 2>&1; do
    [[ $SECONDS -lt $end ]] || die "$what did not happen within ${secs}s (logs: $DIR/logs/)"
    sleep 0.2
  done
}

registry_addr() {
  if [[ $MODE == netns ]]; then echo "10.213.$SUBNET.1:5000"; else echo "127.0.0.1:$((PORT_BASE + 400))"; fi
}

# The images and the registry that serves them (see the header).
images_up() {
  local images=$SCRIPTS/images.sh
  rm -f "$DIR/registries.yaml"
  for tool in docker-registry umoci skopeo; do
    command -v "$tool" > /dev/null || {
      echo "local-cluster: no $tool, so no local registry: pods can only pull from the internet" >&2
      return 0
    }
  done
  bash "$images" build --out "$DIR/images/layout" --bin "$BIN" > "$DIR/logs/images.log" 2>&1 \
    || die "building the images failed: $(tail -5 "$DIR/logs/images.log")"
  bash "$images" registry start "$DIR/registry" "$(registry_addr)" >> "$DIR/logs/images.log" 2>&1 \
    || die "starting the registry failed: $(tail -5 "$DIR/logs/images.log")"
  bash "$images" push "$(registry_addr)" --out "$DIR/images/layout" >> "$DIR/logs/images.log" 2>&1 \
    || die "pushing the images failed: $(tail -5 "$DIR/logs/images.log")"
  printf 'mirrors:\n  docker.io:\n    endpoint: ["http://%s"]\n' "$(registry_addr)" > "$DIR/registries.yaml"
}

# The agents' groups (each node's, and its containers' below it), once nothing runs in them.
groups_down() {
  local a g
  for a in "${AGENTS[@]}"; do
    find /sys/fs/cgroup -depth -type d -name "tug-$a" 2> /dev/null | while read -r g; do
      find "$g" -depth -type d -exec rmdir {} + 2> /dev/null || true
    done
  done
}

# What runc started for the agents, if an agent could not clean it up: containers, their
# root file systems and their groups, the pods' network namespaces (named in each agent's
# network records) and, in loopback mode, the agents' bridges.
runc_down() {
  local a id
  for a in "${AGENTS[@]}"; do
    local root=$DIR/$a/runc
    [[ -d $root ]] && command -v runc > /dev/null || continue
    for id in $(runc --root "$root" list -q 2> /dev/null); do
      runc --root "$root" kill --all "$id" KILL 2> /dev/null || true
      runc --root "$root" delete --force "$id" 2> /dev/null || true
    done
  done
  local m
  for m in $(awk -v d="$DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2> /dev/null || true
  done
  for a in "${AGENTS[@]}"; do
    local rec
    for rec in "$DIR/$a"/network/*; do
      [[ -f $rec && ${rec##*/} != range ]] && ip netns del "tug-$(cat "$rec")" 2> /dev/null || true
    done
    [[ $MODE == netns ]] || ip link del "tugbr${SUBNET}x$(index_of "$a")" 2> /dev/null || true
  done
  # Loopback mode: the agents' routes (protocol 153) and masquerading are this machine's.
  if [[ $MODE != netns && $(id -u) -eq 0 ]]; then
    ip route flush proto 153 2> /dev/null || true
    ip route flush table local proto 153 2> /dev/null || true
    if command -v iptables > /dev/null; then
      while read -r rule; do
        # shellcheck disable=SC2086
        iptables -t nat ${rule/-A/-D} 2> /dev/null || break
      done < <(iptables -t nat -S POSTROUTING 2> /dev/null | grep -- '-j TUG-MASQ' || true)
      iptables -t nat -F TUG-MASQ 2> /dev/null || true
      iptables -t nat -X TUG-MASQ 2> /dev/null || true
    fi
  fi
}

ready_nodes() { [[ $(ctl get nodes --no-headers 2> /dev/null | awk '$2 == "Ready"' | wc -l) -eq 3 ]]; }

# --- commands --------------------------------------------------------------------------------

case $CMD in
  up)
    for n in "${ALL[@]}"; do
      pid_of "$n" > /dev/null 2>&1 && die "the cluster in $DIR already runs; stop it first ($0 --dir $DIR down)"
    done
    for b in tugd tug-agent tug-shim tugctl; do
      [[ -x $BIN/$b ]] || die "$BIN/$b is missing: build first (make build)"
    done
    BIN=$(cd "$BIN" && pwd)
    if [[ $NET == auto ]]; then
      if [[ $(id -u) -eq 0 ]] && ip netns list > /dev/null 2>&1; then NET=netns; else NET=loopback; fi
    fi
    [[ $NET == netns || $NET == loopback ]] || die "--net must be netns, loopback or auto"
    [[ ${#PREFIX} -le 5 ]] || die "--prefix may have at most 5 characters"
    MODE=$NET
    layout
    printf 'MODE=%s\nPREFIX=%s\nSUBNET=%s\nPORT_BASE=%s\nBIN=%s\nGRACE_MS=%s\n' \
      "$MODE" "$PREFIX" "$SUBNET" "$PORT_BASE" "$BIN" "$GRACE_MS" > "$STATE"
    [[ -s $DIR/token ]] || (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' > "$DIR/token")
    printf 'server: %s\ntoken-file: %s\n' "$(servers)" "$DIR/token" > "$DIR/config"
    command -v openssl > /dev/null || die "openssl is missing (scripts/install-deps.sh installs it)"
    make_certs
    [[ $MODE == netns ]] && net_up
    mkdir -p "$DIR/logs"
    images_up
    for m in "${MEMBERS[@]}"; do start_one "$m"; done
    wait_for 30 "electing a leader" ctl cluster status
    (umask 077 && ctl config kubeconfig > "$DIR/kubeconfig") || die "cannot write $DIR/kubeconfig"
    for a in "${AGENTS[@]}"; do start_one "$a"; done
    wait_for 30 "three Ready nodes" ready_nodes
    echo "local-cluster: up in $DIR ($MODE): members $(servers)"
    ;;
  down)
    if [[ ! -f $STATE ]]; then
      echo "local-cluster: nothing runs from $DIR"
    else
      load_state
      for a in "${AGENTS[@]}"; do stop_one "$a"; done
      runc_down
      bash "$SCRIPTS/images.sh" registry stop "$DIR/registry" || true
      for pid in $(dir_processes); do kill -KILL "$pid" 2> /dev/null || true; done
      for _ in $(seq 50); do [[ -z $(dir_processes) ]] && break; sleep 0.1; done  # at most 5 s
      groups_down
      for m in "${MEMBERS[@]}"; do stop_one "$m"; done
      [[ $MODE == netns ]] && net_down
      rm -rf "$DIR/pids"
      echo "local-cluster: stopped the cluster in $DIR"
    fi
    if [[ ${1:-} == --purge ]]; then rm -rf "$DIR"; fi
    ;;
  status)
    load_state
    for n in "${ALL[@]}"; do
      if line=$(pid_of "$n"); then echo "$n running (pid ${line% *}) at $(var ADDR "$n")"; else echo "$n stopped"; fi
    done
    ;;
  start) load_state; start_one "${1:?name}" ;;
  stop) load_state; stop_one "${1:?name}" ;;
  kill) load_state; signal_one "${1:?name}" "${2:-KILL}" || die "${1} did not go" ;;
  crash)
    load_state
    [[ $MODE == netns ]] || die "crash needs the network namespaces (run up as root)"
    n=${1:?node}
    [[ " ${AGENTS[*]} " == *" $n "* ]] || die "crash takes a node (${AGENTS[*]})"
    ip link set "$(host_link "$n")" down
    signal_one "$n" KILL || die "$n did not go"
    if [[ -d $DIR/$n/runc ]] && command -v runc > /dev/null; then
      for id in $(runc --root "$DIR/$n/runc" list -q 2> /dev/null); do
        runc --root "$DIR/$n/runc" kill --all "$id" KILL 2> /dev/null || true
      done
    fi
    for pid in $(dir_processes | sort -u); do
      cmd=$(tr '\0' ' ' 2> /dev/null < "/proc/$pid/cmdline" || true)
      cwd=$(readlink "/proc/$pid/cwd" 2> /dev/null || true)
      [[ $cmd == *"$DIR/$n/"* || $cwd == "$DIR/$n/"* ]] && kill -KILL "$pid" 2> /dev/null || true
    done
    ;;
  isolate | heal)
    load_state
    [[ $MODE == netns ]] || die "$CMD needs the network namespaces (run up as root)"
    ip link set "$(host_link "${1:?name}")" "$([[ $CMD == isolate ]] && echo down || echo up)"
    ;;
  exec)
    load_state
    n=${1:?name}
    shift
    if [[ $MODE == netns ]]; then exec nsenter "--net=/run/netns/$(netns_of "$n")" -- "$@"; else exec "$@"; fi
    ;;
  pid) load_state; line=$(pid_of "${1:?name}") || die "$1 does not run"; echo "${line% *}" ;;
  addr) load_state; var ADDR "${1:?name}" ;;
  servers) load_state; servers ;;
  config) echo "$DIR/config" ;;
  kubeconfig) echo "$DIR/kubeconfig" ;;
  *) die "unknown command $CMD (up, down, status, start, stop, kill, crash, isolate, heal, exec, pid, addr, servers, config, kubeconfig)" ;;
esac
