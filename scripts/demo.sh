#!/usr/bin/env bash
# make demo: a local cluster (scripts/local-cluster.sh), the web-server example applied to it
# (host processes), the seed's application from container images (a database and three web
# servers behind a load balancer, pulled from the launcher's registry and run with runc), and
# what to do next. Run from the repository's root after a build.
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

# The seed's application, from images (manifests/seed-app.yaml): a database behind a Service,
# three web servers that find it by name, and a NodePort Service in front of them, the load
# balancer, served on every node.
lb=""
if [[ -f $DIR/registries.yaml ]]; then
  echo
  tugctl apply -n seed -f manifests/seed-app.yaml
  tugctl rollout status -n seed deployment database --timeout 180s
  tugctl rollout status -n seed deployment web-server --timeout 180s
  echo
  tugctl get pods,svc,endpoints -n seed -o wide
  echo
  lb="http://$(cluster addr node-a):30080/"
  # Every node's address serves the load balancer's port; the first answer can take a moment
  # (the Endpoints reach the nodes' proxies just after the pods are ready).
  for _ in $(seq 50); do curl -sf --max-time 2 "$lb" > /dev/null && break; sleep 0.2; done
  echo "The load balancer spreads requests over the web servers, which count visits in the database:"
  for node in node-a node-b node-c; do
    u="http://$(cluster addr "$node"):30080/"
    printf '  curl %-28s -> %s\n' "$u" "$(curl -s --max-time 3 "$u" || echo '(no answer)')"
  done
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
if [[ -n $lb ]]; then
  echo
  echo "The seed's load balancer (any node's address, port 30080):"
  echo "  curl $lb"
  echo "It keeps answering when a node dies (a machine losing power, here node-b):"
  echo "  bash scripts/local-cluster.sh --dir $DIR crash node-b"
fi
