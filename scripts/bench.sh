#!/usr/bin/env bash
# Benchmarks, one run, reported as ratios measured side by side. Not part of the test suite.
#   scripts/bench.sh doctor   doctor (cold process) against `docker info` and `true`,
#                             and doctor against an endpoint that accepts but never answers
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

case "${1:-all}" in
  doctor) bench_doctor ;;
  all) bench_doctor ;;
  *) echo "usage: scripts/bench.sh [doctor|all]" >&2; exit 2 ;;
esac
