#!/usr/bin/env bash
# Remove everything any of the `up` benchmark's contenders created: the native project's
# processes and data too (third argument), and its services venv when the fourth is `venv`.
bin="$1"; proj="$2"; native="${3:-}"; here=$(dirname "$0")
if [ -n "$native" ]; then
  "$bin" down --volumes -q --dir "$native" >/dev/null 2>&1
  [ "${4:-}" = venv ] && rm -rf "$native/.onramp/native"
fi
"$bin" down --volumes -q --dir "$proj" >/dev/null 2>&1
"$here/bare-down.sh"
"$here/compose-down.sh" "$proj"
true
