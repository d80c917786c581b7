#!/usr/bin/env bash
# Remove everything any of the `up` benchmark's contenders created.
bin="$1"; proj="$2"; here=$(dirname "$0")
"$bin" down --volumes -q --dir "$proj" >/dev/null 2>&1
"$here/bare-down.sh"
"$here/compose-down.sh" "$proj"
true
