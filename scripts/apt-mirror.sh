#!/usr/bin/env bash
# Print the Debian mirror this machine's apt sources already use (never written into the
# repository): the first non-security URI of the deb822 sources, else of sources.list.
set -euo pipefail
m=""
if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
  m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
fi
if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
  m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
fi
if [ -z "$m" ]; then
  echo "no Debian mirror found in the apt sources: add one to /etc/apt/sources.list" >&2
  exit 1
fi
printf '%s' "$m"
