#!/usr/bin/env bash
# Benchmarks, one run, reported as ratios measured side by side. Not part of the test suite.
#   scripts/bench.sh doctor   doctor (cold process) against `docker info` and `true`,
#                             and doctor against an endpoint that accepts but never answers
#   scripts/bench.sh validate a second `validate` (venv in place) against one `python -c` of the
#                             same imports
#   scripts/bench.sh up       up from nothing running (images present) to all ready, against
#                             the physical limit (bare containers + a tight probe loop) and
#                             against docker-compose up -d + waiting for healthy; and a no-op
#                             re-up against docker-compose up -d with everything running;
#                             and native `up` (the same services as processes from wheels)
#                             from no process and no data, and from no services venv either
#   scripts/bench.sh truth    lock, verify and report on a freshly-up project (postgres + redis,
#                             the SDK in a project venv): lock against `docker pull` of the same
#                             images (the registry round trips), a warm verify against the same
#                             looks by hand (docker image inspect, docker ps, pip list), and report
#                             against its 10 s bound; verify and report also with no engine
#   scripts/bench.sh network  doctor with its network checks (the proxies, a registry on
#                             127.0.0.1 reached as the engine reaches it) against doctor with
#                             ONRAMP_NETWORK=off: what the diagnosis costs
#   scripts/bench.sh installer  from no engine (docker.io removed) to all services ready: onramp
#                             setup against the same steps typed by hand (scripts/bench/installer.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="$root/target/bench"
mkdir -p "$out"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q
bin="$root/target/release/onramp"
proj=$(mktemp -d)
trap 'rm -rf "$proj"; [ -n "${stall_pid:-}" ] && kill "$stall_pid" 2>/dev/null || true' EXIT

median() { python3 -c "import json,sys,statistics; print(statistics.median(json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['times']))" "$@"; }

bench_doctor() {
  local cmds=("$bin doctor --dir $proj --json" "true")
  if docker info >/dev/null 2>&1; then cmds+=("docker info"); fi
  hyperfine -N -i --warmup 3 --runs 40 --export-json "$out/doctor.json" "${cmds[@]}" >/dev/null
  local d t
  d=$(median "$out/doctor.json" 0); t=$(median "$out/doctor.json" 1)
  printf 'doctor median %.1f ms; true %.2f ms; doctor/true = %.0fx\n' "$(echo "$d*1000" | bc -l)" "$(echo "$t*1000" | bc -l)" "$(echo "$d/$t" | bc -l)"
  if [ "${#cmds[@]}" -eq 3 ]; then
    local i; i=$(median "$out/doctor.json" 2)
    printf 'docker info median %.1f ms; doctor/docker-info = %.2f\n' "$(echo "$i*1000" | bc -l)" "$(echo "$d/$i" | bc -l)"
  fi
  # An endpoint that accepts connections and never answers: doctor must give up after ~1 s.
  python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 23750)); s.listen(64)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
" &
  stall_pid=$!
  sleep 0.3
  hyperfine -N -i --runs 5 --export-json "$out/doctor-stalled.json" \
    "env DOCKER_HOST=tcp://127.0.0.1:23750 $bin doctor --dir $proj --json" >/dev/null
  local s; s=$(median "$out/doctor-stalled.json" 0)
  printf 'doctor against a stalled endpoint: median %.0f ms (bound: 1000 ms probe timeout)\n' "$(echo "$s*1000" | bc -l)"
}

bench_up() {
  "$root/scripts/provision.sh" >/dev/null
  local reg="${ONRAMP_TEST_REGISTRY:-127.0.0.1:5000}" b="$root/scripts/bench"
  cat > "$proj/onramp.toml" <<TOML
extends = "kailash"
project = "benchonramp"
[services.postgres]
image = "$reg/onramp-test/postgres:15"
ports = ["25432:5432"]
[services.redis]
image = "$reg/onramp-test/redis:7"
ports = ["26379:6379"]
[services.chroma]
image = "$reg/onramp-test/chroma:1.5.9"
ports = ["28000:8000"]
[services.neo4j]
enabled = false
TOML
  (cd "$proj" && VIRTUAL_ENV=/nonexistent "$bin" generate -q >/dev/null)
  # The same services on the native backend (no engine used), on other ports: its services
  # venv installed once (as the engine's images are present), then from no process and no data.
  local nat="$proj/native" uvc="$out/uv-cache"
  mkdir -p "$nat"
  chmod 755 "$proj" "$nat"  # as root, PostgreSQL runs as nobody, who must reach its data
  sed -e 's/^project = .*/project = "benchnative"\nbackend = "native"/' -e '/^image = /d' \
    -e 's/25432:/45432:/; s/26379:/46379:/; s/28000:/48000:/' "$proj/onramp.toml" > "$nat/onramp.toml"
  local native_env="env PATH=${ONRAMP_TEST_UV_DIR:-/var/cache/onramp-test/uv}/bin:$PATH UV_CACHE_DIR=$uvc ONRAMP_NATIVE_WHEELS=${ONRAMP_TEST_NATIVE_WHEELS:-/var/cache/onramp-test/wheels-native}"
  $native_env "$bin" up -q --dir "$nat" >/dev/null
  local clean="$b/clean.sh $bin $proj $nat"
  hyperfine -N -i --runs "${RUNS:-5}" --export-json "$out/up.json" --prepare "$clean" --cleanup "$clean" \
    -n onramp "$bin up -q --dir $proj" \
    -n physical "$b/bare-up.sh $reg" \
    -n compose "$b/compose-up.sh $proj" \
    -n native "$native_env $bin up -q --dir $nat" >/dev/null
  local o p c n
  o=$(median "$out/up.json" 0); p=$(median "$out/up.json" 1); c=$(median "$out/up.json" 2); n=$(median "$out/up.json" 3)
  printf 'up from nothing: onramp %.0f ms, physical limit %.0f ms (onramp - limit = %+.0f ms, ratio %.2f), compose+healthy %.0f ms (onramp/compose = %.2f)\n' \
    "$(echo "$o*1000" | bc -l)" "$(echo "$p*1000" | bc -l)" "$(echo "($o-$p)*1000" | bc -l)" "$(echo "$o/$p" | bc -l)" \
    "$(echo "$c*1000" | bc -l)" "$(echo "$o/$c" | bc -l)"
  printf 'native up from nothing running (services venv installed, no data): %.0f ms (native/engine up = %.2f; goal under 1.5)\n' \
    "$(echo "$n*1000" | bc -l)" "$(echo "$n/$o" | bc -l)"
  # From nothing at all: the services venv too, from the cached wheels (uv's cache warm).
  hyperfine -N -i --runs "${RUNS:-5}" --export-json "$out/up-native-cold.json" \
    --prepare "$b/clean.sh $bin $proj $nat venv" --cleanup "$b/clean.sh $bin $proj $nat" \
    -n native-cold "$native_env $bin up -q --dir $nat" >/dev/null
  local nc; nc=$(median "$out/up-native-cold.json" 0)
  printf 'native up from nothing, services venv included (wheels cached): %.0f ms (native-cold/engine up = %.2f)\n' \
    "$(echo "$nc*1000" | bc -l)" "$(echo "$nc/$o" | bc -l)"
  "$bin" up -q --dir "$proj" >/dev/null
  # Compose's own project uses the same host ports, so its no-op run is timed on another copy.
  sed -e 's/25432:5432/35432:5432/; s/26379:6379/36379:6379/; s/28000:8000/38000:8000/' \
    "$proj/docker-compose.test.yml" > "$proj/compose-noop.yml"
  (cd "$proj" && docker-compose -p benchnoop -f compose-noop.yml up -d >/dev/null 2>&1)
  hyperfine -N -i --warmup 2 --runs 20 --export-json "$out/noop.json" \
    -n onramp "$bin up -q --dir $proj" \
    -n compose "docker-compose -p benchnoop -f $proj/compose-noop.yml up -d" >/dev/null
  (cd "$proj" && docker-compose -p benchnoop -f compose-noop.yml down -v >/dev/null 2>&1)
  "$bin" down --volumes -q --dir "$proj" >/dev/null
  local no nc
  no=$(median "$out/noop.json" 0); nc=$(median "$out/noop.json" 1)
  printf 'no-op re-up: onramp %.0f ms, docker-compose up -d %.0f ms (onramp/compose = %.2f)\n' \
    "$(echo "$no*1000" | bc -l)" "$(echo "$nc*1000" | bc -l)" "$(echo "$no/$nc" | bc -l)"
}

bench_validate() {
  "$root/scripts/provision.sh" >/dev/null
  local venv="${ONRAMP_TEST_VENV:-$root/target/test-venv}" v="$proj/validate"
  mkdir -p "$v"
  printf 'extends = "kailash"\n[services.postgres]\nenabled = false\n[services.redis]\nenabled = false\n[services.chroma]\nenabled = false\n[services.neo4j]\nenabled = false\n' > "$v/onramp.toml"
  local code="from kailash.workflow.builder import WorkflowBuilder; from kailash.runtime.local import LocalRuntime; from kailash.nodes.data import CSVReaderNode; WorkflowBuilder(); LocalRuntime()"
  hyperfine -N -i --warmup 2 --runs 15 --export-json "$out/validate.json" \
    -n onramp "env VIRTUAL_ENV=$venv DOCKER_HOST=unix:///nonexistent $bin validate -q --dir $v" \
    -n python "$venv/bin/python -c '$code'" >/dev/null
  local o p
  o=$(median "$out/validate.json" 0); p=$(median "$out/validate.json" 1)
  printf 'validate (SDK in place): onramp %.0f ms, python -c of the same imports %.0f ms (ratio %.2f)\n' \
    "$(echo "$o*1000" | bc -l)" "$(echo "$p*1000" | bc -l)" "$(echo "$o/$p" | bc -l)"
}

bench_truth() {
  "$root/scripts/provision.sh" >/dev/null
  local reg="${ONRAMP_TEST_REGISTRY:-127.0.0.1:5000}" t="$proj/truth"
  local wheels="${ONRAMP_TEST_WHEELS:-/var/cache/onramp-test/wheels-kailash}"
  mkdir -p "$t"
  cat > "$t/onramp.toml" <<TOML
extends = "minimal"
project = "benchtruth"
[services.postgres]
image = "$reg/onramp-test/postgres:15"
ports = ["45432:5432"]
[services.redis]
image = "$reg/onramp-test/redis:7"
ports = ["46379:6379"]
TOML
  python3 -m venv "$t/.venv" && "$t/.venv/bin/python" -m pip install -q --no-index --find-links "$wheels" kailash
  (cd "$t" && "$bin" generate -q >/dev/null && "$bin" lock -q >/dev/null && "$bin" up -q >/dev/null)
  local pulls="docker pull -q $reg/onramp-test/postgres:15 && docker pull -q $reg/onramp-test/redis:7"
  local hand="docker image inspect $reg/onramp-test/postgres:15 $reg/onramp-test/redis:7 >/dev/null && docker ps -a --filter label=com.docker.compose.project=benchtruth >/dev/null && $t/.venv/bin/python -m pip list >/dev/null"
  hyperfine -N -i --warmup 2 --runs 10 --export-json "$out/truth.json" \
    -n lock "$bin lock -q --dir $t" \
    -n pull "sh -c '$pulls'" \
    -n verify "$bin verify -q --dir $t" \
    -n hand "sh -c '$hand'" \
    -n report "$bin report -q --dir $t -o $proj/r.tar.gz" \
    --prepare "rm -f $proj/r.tar.gz" >/dev/null
  hyperfine -N -i --runs 5 --export-json "$out/truth-noengine.json" \
    -n verify "env DOCKER_HOST=unix:///nonexistent $bin verify -q --dir $t" \
    -n report "env DOCKER_HOST=unix:///nonexistent $bin report -q --dir $t -o $proj/r.tar.gz" \
    --prepare "rm -f $proj/r.tar.gz" >/dev/null
  "$bin" down --volumes -q --dir "$t" >/dev/null
  local l p v h r vn rn
  l=$(median "$out/truth.json" 0); p=$(median "$out/truth.json" 1); v=$(median "$out/truth.json" 2)
  h=$(median "$out/truth.json" 3); r=$(median "$out/truth.json" 4)
  vn=$(median "$out/truth-noengine.json" 0); rn=$(median "$out/truth-noengine.json" 1)
  printf 'lock: %.0f ms; docker pull of the same images %.0f ms (lock/pull = %.2f)\n' \
    "$(echo "$l*1000" | bc -l)" "$(echo "$p*1000" | bc -l)" "$(echo "$l/$p" | bc -l)"
  printf 'verify (warm): %.0f ms (goal 2000 ms); the same looks by hand %.0f ms (verify/hand = %.2f)\n' \
    "$(echo "$v*1000" | bc -l)" "$(echo "$h*1000" | bc -l)" "$(echo "$v/$h" | bc -l)"
  printf 'report: %.0f ms (goal 10000 ms, report/goal = %.2f)\n' "$(echo "$r*1000" | bc -l)" "$(echo "$r/10" | bc -l)"
  printf 'without an engine: verify %.0f ms, report %.0f ms\n' "$(echo "$vn*1000" | bc -l)" "$(echo "$rn*1000" | bc -l)"
}

bench_network() {
  local dir
  dir=$(mktemp -d)
  printf 'name = "netbench"\n[requirements]\ndocker = "optional"\n[services.redis]\nimage = "127.0.0.1:5000/onramp-test/redis:7"\nports = ["26999:6379"]\n' >"$dir/onramp.toml"
  hyperfine -N -i --warmup 2 --runs 20 --export-json "$out/network.json" \
    "env ONRAMP_NETWORK=off $bin doctor --dir $dir --json" "$bin doctor --dir $dir --json" >/dev/null
  local off on
  off=$(median "$out/network.json" 0); on=$(median "$out/network.json" 1)
  printf 'doctor with network checks median %.1f ms; without %.1f ms; with/without = %.2f\n' \
    "$(echo "$on*1000" | bc -l)" "$(echo "$off*1000" | bc -l)" "$(echo "$on/$off" | bc -l)"
  rm -rf "$dir"
}

case "${1:-all}" in
  doctor) bench_doctor ;;
  up) bench_up ;;
  validate) bench_validate ;;
  truth) bench_truth ;;
  network) bench_network ;;
  # Removes and reinstalls the engine: only when asked for by name, never in `all`.
  installer) ONRAMP_BIN="$bin" "$root/scripts/bench/installer.sh" ;;
  all) bench_doctor; bench_up; bench_validate; bench_truth; bench_network ;;
  *) echo "usage: scripts/bench.sh [doctor|up|validate|truth|installer|all]" >&2; exit 2 ;;
esac
