#!/usr/bin/env bash
# Small container images built offline from files on this machine, and a local registry to
# serve them: what `make demo`, the launcher and the end-to-end tests run instead of images
# from the internet.
#
#   scripts/images.sh build [--out DIR] [--bin DIR]
#       builds an OCI layout in DIR (default build/images) with umoci:
#         busybox:latest         busybox-static with its applets, /etc/passwd, /tmp
#         tug-web:latest         build/cmd/tug-web and the libraries it needs
#         web-server-image:latest  the same (the seed's name for its web server)
#         redis:7                redis-server from Debian's package and its libraries
#         database-image:latest  the same (the seed's name for its database)
#   scripts/images.sh push REGISTRY [--out DIR]
#       copies every image of the layout to REGISTRY (host:port, plain HTTP) with skopeo,
#       under library/NAME:TAG, which is where `NAME:TAG` resolves through a docker.io mirror
#   scripts/images.sh registry start DIR ADDR | registry stop DIR
#       Debian's docker-registry listening on ADDR (host:port) with its storage in DIR;
#       start waits until it answers; stop ends it by its PID
#
# Needs umoci, skopeo, docker-registry, busybox-static and redis-server
# (scripts/install-deps.sh installs them).
set -euo pipefail

die() { echo "images: $*" >&2; exit 1; }

OUT=build/images
BIN=build/cmd

# Copies a program and the shared libraries ldd names (with the dynamic loader) into ROOT.
copy_with_libs() {  # ROOT PROGRAM DEST
  local root=$1 prog=$2 dest=$3
  install -D -m 0755 "$prog" "$root$dest"
  local lib
  for lib in $(ldd "$prog" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
    install -D -m 0755 "$lib" "$root$lib"
  done
}

base_files() {  # ROOT
  local root=$1
  mkdir -p "$root/etc" "$root/tmp" "$root/data"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nredis:x:999:999:redis:/data:/bin/false\n' \
    > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nredis:x:999:\n' > "$root/etc/group"
}

# new_image NAME FILL_FUNCTION CONFIG_ARGS...: one layer of files, then the config.
new_image() {
  local name=$1 fill=$2
  shift 2
  local work
  work=$(mktemp -d)
  umoci new --image "$OUT:$name" > /dev/null
  umoci unpack --image "$OUT:$name" "$work/bundle" > /dev/null
  "$fill" "$work/bundle/rootfs"
  umoci repack --image "$OUT:$name" "$work/bundle" > /dev/null
  umoci config --image "$OUT:$name" --os linux --architecture amd64 "$@" > /dev/null
  rm -rf "$work"
}

fill_busybox() {
  local root=$1
  base_files "$root"
  install -D -m 0755 /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
  done
}

fill_web() {
  local root=$1
  base_files "$root"
  copy_with_libs "$root" "$BIN/tug-web" /usr/bin/tug-web
}

fill_redis() {
  local root=$1
  base_files "$root"
  chown 999:999 "$root/data"
  copy_with_libs "$root" /usr/bin/redis-server /usr/bin/redis-server
}

build() {
  for tool in umoci /bin/busybox /usr/bin/redis-server; do
    command -v "$tool" > /dev/null || die "$tool is missing (scripts/install-deps.sh installs it)"
  done
  [[ -x $BIN/tug-web ]] || die "$BIN/tug-web is missing: build first (make build)"
  rm -rf "$OUT"
  mkdir -p "$(dirname "$OUT")"
  umoci init --layout "$OUT"
  new_image busybox:latest fill_busybox --config.cmd sh --config.env PATH=/bin
  new_image tug-web:latest fill_web --config.entrypoint /usr/bin/tug-web \
    --config.exposedports 8080/tcp --config.user 65534:65534
  new_image redis:7 fill_redis --config.entrypoint /usr/bin/redis-server \
    --config.cmd --protected-mode --config.cmd no --config.cmd --save --config.cmd "" \
    --config.workingdir /data --config.user redis --config.exposedports 6379/tcp
  # The seed's names for the same images.
  umoci tag --image "$OUT:tug-web:latest" web-server-image:latest
  umoci tag --image "$OUT:redis:7" database-image:latest
  umoci gc --layout "$OUT"
  echo "images: built $(umoci ls --layout "$OUT" | tr '\n' ' ')in $OUT ($(du -sh "$OUT" | cut -f1))"
}

push() {  # REGISTRY
  local reg=$1 t
  command -v skopeo > /dev/null || die "skopeo is missing (scripts/install-deps.sh installs it)"
  [[ -d $OUT ]] || die "no images in $OUT: run $0 build first"
  for t in $(umoci ls --layout "$OUT"); do
    skopeo copy --quiet --dest-tls-verify=false "oci:$OUT:$t" "docker://$reg/library/$t" \
      || die "cannot push $t to $reg"
  done
  echo "images: pushed $(umoci ls --layout "$OUT" | tr '\n' ' ')to $reg"
}

registry() {  # start DIR ADDR | stop DIR
  local what=$1 dir=$2
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  case $what in
    start)
      local addr=$3
      if [[ -f $dir/registry.pid ]] && kill -0 "$(cat "$dir/registry.pid")" 2> /dev/null; then
        return 0
      fi
      command -v docker-registry > /dev/null || die "docker-registry is missing (scripts/install-deps.sh installs it)"
      printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: %s\n' \
        "$dir" "$addr" > "$dir/config.yml"
      setsid docker-registry serve "$dir/config.yml" >> "$dir/registry.log" 2>&1 < /dev/null &
      echo $! > "$dir/registry.pid"
      local end=$((SECONDS + 20))
      until curl -fsS "http://$addr/v2/" > /dev/null 2>&1; do
        kill -0 "$(cat "$dir/registry.pid")" 2> /dev/null || die "the registry exited: $(tail -5 "$dir/registry.log")"
        [[ $SECONDS -lt $end ]] || die "the registry did not answer on $addr within 20 s: $(tail -5 "$dir/registry.log")"
        sleep 0.1
      done
      ;;
    stop)
      [[ -f $dir/registry.pid ]] || return 0
      local pid
      pid=$(cat "$dir/registry.pid")
      kill "$pid" 2> /dev/null || true
      for _ in $(seq 100); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.05
      done
      kill -KILL "$pid" 2> /dev/null || true
      rm -f "$dir/registry.pid"
      ;;
    *) die "registry start DIR ADDR | registry stop DIR" ;;
  esac
}

[[ $# -ge 1 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
cmd=$1
shift
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
case $cmd in
  build) build ;;
  push) [[ ${#args[@]} -eq 1 ]] || die "push REGISTRY"; push "${args[0]}" ;;
  registry) registry "${args[@]}" ;;
  *) die "unknown command $cmd (build, push, registry)" ;;
esac
