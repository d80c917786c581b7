#!/usr/bin/env bash
# Install and start everything the test suite needs, idempotently:
# Docker engine (Debian docker.io, installed and started by onramp's own installer), Podman's
# Docker-compatible API service (Debian podman, rootful socket /run/podman/podman.sock),
# docker-compose 1.29 and Compose v2 (the CLI plugin from Debian 13's package), the clients
# the tests use (psql, redis-cli, curl), a Python venv holding the real `kailash` package from
# the package index and psycopg 3 (a client the test images must satisfy), boltkit's Bolt stub
# server, the test images in a local registry (scripts/images.sh); shellcheck and maturin (in a
# venv) for the packaging tests; a JDK (java, javac, keytool) and wget (GnuTLS) for the JVM
# and the wget that must trust the company root inside a service (tests/cli/network_services.rs).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/target/test-state"
mkdir -p "$state"
venv="${ONRAMP_TEST_VENV:-$root/target/test-venv}"
bolt_venv="${ONRAMP_TEST_BOLT_VENV:-$root/target/bolt-venv}"
maturin_venv="${ONRAMP_MATURIN_VENV:-$root/target/maturin-venv}"
net_venv="${ONRAMP_TEST_NET_VENV:-$root/target/net-venv}"

log() { printf 'provision: %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  if [ ! -f "$state/apt-updated" ]; then
    apt-get update -qq
    touch "$state/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The engine comes from onramp's own installer (`doctor --fix` with a profile that needs only the
# engine), so every provisioned machine exercises it: it installs the distribution's package,
# removes stale pid files and starts the daemon the way PID 1 allows.
start_engine() {
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  local dir="$state/engine"
  mkdir -p "$dir"
  log "building onramp to install and start the engine with its own installer"
  cargo build --quiet --bin onramp --manifest-path "$root/Cargo.toml"
  DOCKER_HOST=unix:///var/run/docker.sock "$root/target/debug/onramp" doctor --fix --yes \
    --profile "$root/scripts/engine.toml" --dir "$dir" >&2 || true
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "onramp's installer did not leave a running engine; its logs: $dir/.onramp/logs/"
  tail -20 "$dir"/.onramp/logs/*.log >&2 || true
  return 1
}

# Podman as a second engine: no default ulimits (the container's hard open-files limit is lower
# than Podman's default), the local test registry over plain HTTP, and the API service
# detached with a log file (no systemd here).
podman_socket=/run/podman/podman.sock
start_podman() {
  local conf=/etc/containers/containers.conf
  if ! grep -qs '^default_ulimits' "$conf"; then
    log "setting default_ulimits = [] in $conf"
    if grep -qs '^\[containers\]' "$conf"; then
      sed -i '/^\[containers\]/a default_ulimits = []' "$conf"
    else
      printf '\n[containers]\ndefault_ulimits = []\n' >>"$conf"
    fi
  fi
  # crun refuses a hybrid cgroup layout (v1 controllers beside a v2 hierarchy that holds some
  # controllers, as on this kind of container host); runc runs there.
  if [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ] \
    && ! grep -qs '^runtime = "runc"' "$conf"; then
    log "hybrid cgroups: setting runtime = \"runc\" for podman in $conf"
    if grep -qs '^\[engine\]' "$conf"; then
      sed -i '/^\[engine\]/a runtime = "runc"' "$conf"
    else
      printf '\n[engine]\nruntime = "runc"\n' >>"$conf"
    fi
    # a running API service read the old runtime: restart it below
    pkill -f '^podman system service' 2>/dev/null || true
    for _ in $(seq 1 50); do
      pgrep -f '^podman system service' >/dev/null || break
      sleep 0.1
    done
  fi
  local registry="${ONRAMP_TEST_REGISTRY:-127.0.0.1:5000}"
  local reg="/etc/containers/registries.conf.d/onramp-test-${registry//[^0-9A-Za-z]/-}.conf"
  if [ ! -f "$reg" ]; then
    log "allowing the test registry $registry over HTTP for podman ($reg)"
    mkdir -p "$(dirname "$reg")"
    printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$registry" >"$reg"
  fi
  if curl -fsS --unix-socket "$podman_socket" http://d/_ping >/dev/null 2>&1; then
    return 0
  fi
  log "starting podman system service on $podman_socket (log: $state/podman-service.log)"
  mkdir -p "$(dirname "$podman_socket")"
  rm -f "$podman_socket"
  # Descriptors 3-9 closed: a daemon must not keep the engine lock that flock(1) handed the
  # caller (it would be held for as long as the daemon runs).
  nohup podman system service --time=0 "unix://$podman_socket" >"$state/podman-service.log" 2>&1 \
    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  local pid=$!
  for _ in $(seq 1 100); do
    curl -fsS --unix-socket "$podman_socket" http://d/_ping >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  log "podman's API service did not start; last lines of its log:"
  tail -20 "$state/podman-service.log" >&2 || true
  return 1
}

# The Debian mirror of this machine's apt sources.
mirror() { "$root/scripts/apt-mirror.sh"; }

# Compose v2 (the `docker compose` CLI plugin) for the interop tests, from Debian 13's
# `docker-compose` package: its .deb is fetched from the Debian mirror of this machine's apt
# sources, checked against the SHA256 of trixie's Packages index (itself checked against the
# suite's InRelease), and only the plugin binary is unpacked into the Docker CLI's plugin
# folder. Nothing is installed into the system with dpkg or apt. Cached under
# /var/cache/onramp-test.
compose_suite=trixie
compose_plugin_dir=${ONRAMP_COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
compose_v2() {
  if docker compose version >/dev/null 2>&1; then
    return 0
  fi
  local cache=/var/cache/onramp-test/compose-v2 arch m
  arch=$(dpkg --print-architecture)
  mkdir -p "$cache"
  m=$(mirror)
  m=${m%/}
  if [ ! -f "$cache/docker-compose.deb" ]; then
    log "reading the $compose_suite Packages index for docker-compose ($arch)"
    curl -fsSL "$m/dists/$compose_suite/InRelease" -o "$cache/InRelease"
    curl -fsSL "$m/dists/$compose_suite/main/binary-$arch/Packages.xz" -o "$cache/Packages.xz"
    local want
    want=$(awk -v f="main/binary-$arch/Packages.xz" '/^SHA256:/ {s = 1; next} /^[^ ]/ {s = 0} s && $3 == f {print $1}' "$cache/InRelease")
    echo "$want  $cache/Packages.xz" | sha256sum -c --quiet - \
      || { log "the $compose_suite Packages index does not match its InRelease"; return 1; }
    local stanza file sha
    stanza=$(xz -dc "$cache/Packages.xz" | awk 'BEGIN {RS = ""} !done && /^Package: docker-compose\n/ {print; done = 1}')
    file=$(printf '%s\n' "$stanza" | awk '/^Filename:/ {print $2}')
    sha=$(printf '%s\n' "$stanza" | awk '/^SHA256:/ {print $2}')
    if [ -z "$file" ] || [ -z "$sha" ]; then
      log "no docker-compose in the $compose_suite Packages index"
      return 1
    fi
    log "fetching $(basename "$file")"
    curl -fsSL "$m/$file" -o "$cache/docker-compose.deb.part"
    echo "$sha  $cache/docker-compose.deb.part" | sha256sum -c --quiet - \
      || { log "$(basename "$file") does not match the SHA256 of the Packages index"; return 1; }
    mv "$cache/docker-compose.deb.part" "$cache/docker-compose.deb"
  fi
  local tmp
  tmp=$(mktemp -d)
  dpkg-deb -x "$cache/docker-compose.deb" "$tmp"
  local bin
  bin=$(find "$tmp" -path '*/cli-plugins/docker-compose' -type f | head -1)
  [ -n "$bin" ] || { rm -rf "$tmp"; log "the package holds no cli-plugins/docker-compose"; return 1; }
  mkdir -p "$compose_plugin_dir"
  install -m 0755 "$bin" "$compose_plugin_dir/docker-compose"
  rm -rf "$tmp"
  log "docker compose plugin: $(docker compose version --short 2>/dev/null || echo unusable)"
  docker compose version >/dev/null
}

python_venv() {
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import kailash, pytest, psycopg, redis" 2>/dev/null; then
    return 0
  fi
  log "creating $venv with kailash, pytest, psycopg 3 and redis-py"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check kailash pytest "psycopg[binary]" redis
}

# Wheels of kailash and its dependencies, for the container rung of the SDK ladder, which the
# tests run offline (`validate --wheelhouse`).
kailash_wheels() {
  local dir="${ONRAMP_TEST_WHEELS:-/var/cache/onramp-test/wheels-kailash}"
  [ -f "$dir/.complete" ] && return 0
  log "fetching kailash and its dependencies as wheels into $dir"
  mkdir -p "$dir"
  python3 -m pip wheel -q --disable-pip-version-check -w "$dir" kailash >/dev/null
  touch "$dir/.complete"
}

# setuptools and uv as wheels, for the tests of the venv rung that install a project's own
# dependencies offline (`validate --wheelhouse`): a build backend and uv itself.
tool_wheels() {
  local dir="${ONRAMP_TEST_TOOL_WHEELS:-/var/cache/onramp-test/wheels-tools}"
  [ -f "$dir/.complete" ] && return 0
  log "fetching setuptools and uv as wheels into $dir"
  mkdir -p "$dir"
  python3 -m pip download -q --disable-pip-version-check --only-binary :all: -d "$dir" setuptools uv >/dev/null
  touch "$dir/.complete"
}

# The native backend's pinned wheels (src/stack/native/requirements.txt, with hashes), for the
# interpreters here (python3 on PATH and Debian's, whose markers differ), and uv unpacked from
# its wheel: the native tests install the services venv offline from these, in seconds.
native_wheels() {
  local dir="${ONRAMP_TEST_NATIVE_WHEELS:-/var/cache/onramp-test/wheels-native}"
  local req="$root/src/stack/native/requirements.txt"
  local stamp
  stamp=$(sha256sum "$req" | cut -c1-16)
  if [ ! -f "$dir/.complete-$stamp" ]; then
    log "fetching the native backend's pinned wheels into $dir"
    mkdir -p "$dir"
    local py
    for py in python3 /usr/bin/python3; do
      command -v "$py" >/dev/null || continue
      "$py" -m pip download -q --disable-pip-version-check --only-binary :all: --require-hashes \
        -r "$req" -d "$dir" >/dev/null
    done
    touch "$dir/.complete-$stamp"
  fi
  local uv_dir="${ONRAMP_TEST_UV_DIR:-/var/cache/onramp-test/uv}"
  if [ ! -x "$uv_dir/bin/uv" ]; then
    local wheels wheel
    wheels=("${ONRAMP_TEST_TOOL_WHEELS:-/var/cache/onramp-test/wheels-tools}"/uv-*.whl)
    wheel=${wheels[0]}
    [ -f "$wheel" ] || { log "no uv wheel in the tool wheels: run scripts/provision.sh again"; exit 1; }
    log "unpacking uv from $wheel into $uv_dir"
    mkdir -p "$uv_dir/bin"
    python3 - "$wheel" "$uv_dir/bin/uv" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/uv"))
    with open(sys.argv[2], "wb") as out:
        out.write(z.read(name))
PY
    chmod 755 "$uv_dir/bin/uv"
  fi
}

bolt_stub() {
  if [ -x "$bolt_venv/bin/boltstub" ]; then
    return 0
  fi
  log "creating $bolt_venv with boltkit (the Neo4j drivers' Bolt stub server)"
  python3 -m venv "$bolt_venv"
  "$bolt_venv/bin/python" -m pip install -q --disable-pip-version-check boltkit
}

# The network tests' stand-ins (tests/net/standin.py): a proxy that intercepts TLS with its own
# root, registries answering 401/429, certificates made on the spot, and pypiserver.
net_venv() {
  if "$net_venv/bin/python" -c "import cryptography, pypiserver" 2>/dev/null; then
    return 0
  fi
  log "creating $net_venv with cryptography and pypiserver"
  [ -x "$net_venv/bin/python" ] || python3 -m venv "$net_venv"
  "$net_venv/bin/python" -m pip install -q --disable-pip-version-check cryptography pypiserver
}

# maturin builds the wheel (scripts/wheel.sh); pinned to the major version pyproject.toml names.
maturin_tool() {
  if "$maturin_venv/bin/maturin" --version >/dev/null 2>&1; then
    return 0
  fi
  log "creating $maturin_venv with maturin"
  python3 -m venv "$maturin_venv"
  "$maturin_venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.5,<2"
}

apt_install docker-compose iproute2 procps curl postgresql-client redis-tools \
  debootstrap docker-registry shellcheck binutils podman xz-utils openjdk-17-jdk-headless wget
maturin_tool
start_engine
start_podman
compose_v2
python_venv
bolt_stub
net_venv
kailash_wheels
tool_wheels
native_wheels
"$root/scripts/images.sh"
log "ready: engine $(docker version --format '{{.Server.Version}}'), venv $venv"
