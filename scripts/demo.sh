#!/usr/bin/env bash
# make demo: a local cluster (scripts/local-cluster.sh), the web-server example applied to it
# (host processes), the seed's application from container images (a database and three web
# servers, pulled from the launcher's registry and run with runc), and what to do next. Run
# from the repository's root after a build.
set -euo pipefail

DIR=${TUG_DEMO_DIR:-.tug-local}
BIN=build/cmd
cluster() { bash scripts/local-cluster.sh --dir "$DIR" --bin "$BIN" "$@"; }
tugctl() { "$BIN/tugctl" --config "$DIR/config" "$@"; }

# Each demo starts afresh: a cluster an earlier one left (running or stopped) goes first.
if [[ -f $DIR/cluster.env ]]; then
  echo "demo: removing the cluster an earlier 'make demo' left in $DIR"
  cluster down --purge > /dev/null
fi
cluster up
echo
tugctl apply -f manifests/web-server.yaml
tugctl rollout status deployment web-server --timeout 120s
echo
tugctl get pods -o wide
echo

# Each replica answers on its node's address and the host port its agent gave it.
urls=()
# (Columns from the end: RESTARTS may read "1 (5m ago)".)
while read -r status ip ports; do
  [[ $status == Running ]] || continue
  urls+=("http://$ip:${ports%%-*}/")
done < <(tugctl get pods -l app=web-server -o wide --no-headers | awk '{print $3, $(NF-2), $NF}')
echo "The replicas answer:"
for u in "${urls[@]}"; do
  printf '  curl %-32s -> %s\n' "$u" "$(curl -s --max-time 3 "$u" || echo '(no answer)')"
done

# The seed's application, from images: each pod has an address of its own, reached from its node.
if [[ -f $DIR/registries.yaml ]]; then
  echo
  tugctl apply -n seed -f manifests/seed-example.yaml
  tugctl rollout status -n seed deployment database --timeout 180s
  tugctl rollout status -n seed deployment web-server --timeout 180s
  echo
  tugctl get pods -n seed -o wide
  echo
  echo "The image-based web servers answer at their pod addresses (from their nodes):"
  # (Columns from the end: IP, NODE, PORTS.)
  while read -r name ip node; do
    [[ $name == web-server-* ]] || continue
    printf '  %s: curl http://%s:8080/ -> %s\n' "$node" "$ip" \
      "$(cluster exec "$node" curl -s --max-time 3 "http://$ip:8080/" || echo '(no answer)')"
  done < <(tugctl get pods -n seed -o wide --no-headers | awk '{print $1, $(NF-2), $(NF-1)}')
fi

abs=$(cd "$DIR" && pwd)
cat <<EOF

The cluster runs: three tugd members and three tug-agent nodes ($(cluster status | grep -c running) processes).
Use tugctl against it:
  export TUG_CONFIG=$abs/config
  $BIN/tugctl get pods -o wide
  $BIN/tugctl cluster status
  $BIN/tugctl scale deployment web-server --replicas 5
  $BIN/tugctl logs deployment/web-server
  $BIN/tugctl describe node node-a
or kubectl, if you have it (the members also serve HTTPS; the kubeconfig holds the token):
  export KUBECONFIG=$abs/kubeconfig
  kubectl get deployments,pods -o wide
Logs of each process: $abs/logs/
Stop everything it started: make down
EOF
