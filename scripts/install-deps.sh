#!/usr/bin/env bash
# Installs the Debian 12 packages Tug needs to build and test. Idempotent: prints nothing
# and changes nothing when every package is already present. Works as root or through sudo.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache make
  mold                      # a faster linker (CMake uses it when present)
  libboost1.81-dev          # Asio, Beast (1.81: as_tuple, cancellation, awaitable operators)
  nlohmann-json3-dev libyaml-cpp-dev
  libprotobuf-dev protobuf-compiler
  catch2 libcli11-dev libspdlog-dev
  libssl-dev openssl        # tugd's HTTPS listener; the launcher makes its certificate
  libarchive-dev zlib1g-dev # the agent reads image layers (tar, gzip)
  libcrypt-dev              # the image tests write a registry's htpasswd (bcrypt)
  iproute2 procps util-linux  # network namespaces (ip, nsenter) and process tools
  iptables                  # the pod network's masquerading (nf_tables backend)
  runc                      # the agent's OCI runtime
  umoci skopeo busybox-static redis-server  # scripts/images.sh builds and pushes test images
  docker-registry           # the local registry the launcher and the image tests run
  curl                      # make demo asks the replicas for their answer
)

missing=()
for p in "${packages[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and not root and no sudo; install them and retry" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
# Packaged daemons (redis-server, docker-registry) must not start as services here: only their
# programs are used. policy-rc.d's exit 101 tells invoke-rc.d "do not start"; ours is removed
# again afterwards, and one that was already there is left alone.
policy=/usr/sbin/policy-rc.d
ours=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" > /dev/null
  "${sudo[@]}" chmod 0755 "$policy"
  ours=true
fi
trap '$ours && "${sudo[@]}" rm -f "$policy"' EXIT
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
