#!/usr/bin/env bash
# The whole test suite, from a fresh clone: provision what the tests need, then run them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/provision.sh
export ONRAMP_TEST_VENV="${ONRAMP_TEST_VENV:-$root/target/test-venv}"
export ONRAMP_TEST_BOLT_VENV="${ONRAMP_TEST_BOLT_VENV:-$root/target/bolt-venv}"
export ONRAMP_TEST_NET_VENV="${ONRAMP_TEST_NET_VENV:-$root/target/net-venv}"
export ONRAMP_TEST_WHEELS="${ONRAMP_TEST_WHEELS:-/var/cache/onramp-test/wheels-kailash}"
export ONRAMP_TEST_TOOL_WHEELS="${ONRAMP_TEST_TOOL_WHEELS:-/var/cache/onramp-test/wheels-tools}"
export ONRAMP_TEST_NATIVE_WHEELS="${ONRAMP_TEST_NATIVE_WHEELS:-/var/cache/onramp-test/wheels-native}"
export ONRAMP_TEST_UV_DIR="${ONRAMP_TEST_UV_DIR:-/var/cache/onramp-test/uv}"
# The wheel (a release build: a few minutes from cold) is built once here and installed by
# tests/cli/install.rs: always in CI (ONRAMP_TEST_STRICT=1), otherwise with ONRAMP_TEST_WHEEL=1.
if [ -z "${ONRAMP_TEST_WHEEL_DIR:-}" ] \
  && { [ "${ONRAMP_TEST_STRICT:-}" = 1 ] || [ "${ONRAMP_TEST_WHEEL:-}" = 1 ]; }; then
  rm -rf "$root/target/test-wheel"
  scripts/wheel.sh --out "$root/target/test-wheel"
  export ONRAMP_TEST_WHEEL_DIR="$root/target/test-wheel"
fi
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@"
else
  cargo test "$@"
fi
