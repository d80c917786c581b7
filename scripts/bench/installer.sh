#!/usr/bin/env bash
# From no engine to every service ready on Debian: `onramp setup --yes` against the same steps
# typed by hand (apt-get update, apt-get install docker.io, start dockerd, wait for it, compose
# up, wait until PostgreSQL and Redis answer). Stops the engine and removes docker.io twice, and
# always leaves a running engine behind. Needs root; not part of the test suite.
#   scripts/bench/installer.sh      (ONRAMP_BIN picks the binary; default target/debug/onramp)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="${ONRAMP_BIN:-$root/target/debug/onramp}"
registry="${ONRAMP_TEST_REGISTRY:-127.0.0.1:5000}"
venv="${ONRAMP_TEST_VENV:-$root/target/test-venv}"
work="$root/target/bench/installer"
mkdir -p "$work"
export DOCKER_HOST=unix:///var/run/docker.sock
pg=32030 redis=32031

restore() {
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  nohup dockerd >>"$work/dockerd-restore.log" 2>&1 &
  for _ in $(seq 1 600); do docker info >/dev/null 2>&1 && return 0; sleep 0.1; done
}
trap restore EXIT

project() {
  local dir="$work/$1"
  rm -rf "$dir/onramp.toml" "$dir/docker-compose.test.yml" "$dir/.env"
  mkdir -p "$dir"
  cat >"$dir/onramp.toml" <<TOML
extends = "minimal"
project = "installbench$1"
[requirements]
memory_gib = { min = 1 }
cpus = { min = 1 }
disk_free_gib = { min = 1 }
[services.postgres]
image = "$registry/onramp-test/postgres:15"
ports = ["$pg:5432"]
[services.redis]
image = "$registry/onramp-test/redis:7"
ports = ["$redis:6379"]
TOML
  echo "$dir"
}

bare() {
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq docker.io >/dev/null
}

now() { date +%s.%N; }

# By hand: the compose file is rendered beforehand (not timed), as a developer would copy it.
hand=$(project hand)
"$bin" generate --dir "$hand" >/dev/null
bare
t0=$(now)
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
nohup dockerd >>"$work/dockerd-hand.log" 2>&1 &
until docker info >/dev/null 2>&1; do sleep 0.2; done
docker-compose -f "$hand/docker-compose.test.yml" -p installbenchhand up -d >/dev/null 2>&1
until pg_isready -q -h 127.0.0.1 -p $pg && [ "$(redis-cli -p $redis ping 2>/dev/null)" = PONG ]; do sleep 0.2; done
t1=$(now)
docker-compose -f "$hand/docker-compose.test.yml" -p installbenchhand down -v >/dev/null 2>&1

# onramp: one command, the plan applied, services up and the SDK validated.
auto=$(project onramp)
bare
t2=$(now)
VIRTUAL_ENV="$venv" "$bin" setup --yes --dir "$auto" >"$work/setup.log" 2>&1 || { tail -30 "$work/setup.log"; exit 1; }
t3=$(now)
VIRTUAL_ENV="$venv" "$bin" setup --yes --dir "$auto" >"$work/setup-again.log" 2>&1
t4=$(now)
"$bin" down --volumes --dir "$auto" >/dev/null 2>&1 || true

printf 'by hand (update, install, dockerd, compose up, wait ready): %.1f s\n' "$(echo "$t1-$t0" | bc -l)"
printf 'onramp setup --yes (the same, plus generate and SDK validation): %.1f s\n' "$(echo "$t3-$t2" | bc -l)"
printf 'second onramp setup (every step satisfied): %.1f s\n' "$(echo "$t4-$t3" | bc -l)"
