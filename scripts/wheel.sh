#!/usr/bin/env bash
# The Python wheel for this platform (maturin, `bindings = "bin"`): onramp-<version>-py3-none-
# <platform>.whl, whose only content is the release binary, installed by pip as a script.
# maturin comes from the package index into a venv under target/ (made here when missing).
#
#   scripts/wheel.sh [--out DIR] [maturin build options, e.g. --sdist or --compatibility TAG]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/dist"
if [ "${1:-}" = "--out" ]; then
  [ $# -ge 2 ] || { echo "wheel: error: --out needs a directory" >&2; exit 2; }
  out=$2
  shift 2
fi
venv="${ONRAMP_MATURIN_VENV:-$root/target/maturin-venv}"

if ! "$venv/bin/maturin" --version >/dev/null 2>&1; then
  echo "wheel: installing maturin into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.5,<2"
fi

cd "$root"
"$venv/bin/maturin" build --release --locked --out "$out" "$@"
