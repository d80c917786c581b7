#!/usr/bin/env bash
# Install and start everything the test suite needs, idempotently:
# Docker engine (Debian docker.io; dockerd started when none runs), docker-compose,
# and a Python venv holding the real `kailash` package from the package index.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/target/test-state"
mkdir -p "$state"
venv="${ONRAMP_TEST_VENV:-$root/target/test-venv}"

log() { printf 'provision: %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  if [ ! -f "$state/apt-updated" ]; then
    apt-get update -qq
    touch "$state/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_engine() {
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  if [ -d /run/systemd/system ]; then
    log "starting docker with systemctl"
    systemctl start docker || true
  fi
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (log: $state/dockerd.log)"
    nohup dockerd >"$state/dockerd.log" 2>&1 &
  fi
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "the Docker engine did not start; last lines of its log:"
  tail -20 "$state/dockerd.log" >&2 || true
  return 1
}

python_venv() {
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import kailash" 2>/dev/null; then
    return 0
  fi
  log "creating $venv with kailash"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check kailash
}

apt_install docker.io docker-compose iproute2 procps
start_engine
python_venv
log "ready: engine $(docker version --format '{{.Server.Version}}'), venv $venv"
