#!/usr/bin/env bash
# The whole test suite, from a fresh clone: provision what the tests need, then run them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/provision.sh
export ONRAMP_TEST_VENV="${ONRAMP_TEST_VENV:-$root/target/test-venv}"
export ONRAMP_TEST_BOLT_VENV="${ONRAMP_TEST_BOLT_VENV:-$root/target/bolt-venv}"
export ONRAMP_TEST_WHEELS="${ONRAMP_TEST_WHEELS:-/var/cache/onramp-test/wheels-kailash}"
export ONRAMP_TEST_TOOL_WHEELS="${ONRAMP_TEST_TOOL_WHEELS:-/var/cache/onramp-test/wheels-tools}"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@"
else
  cargo test "$@"
fi
