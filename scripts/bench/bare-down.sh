#!/usr/bin/env bash
set -uo pipefail
p=benchbare
docker rm -f "$p-postgres-1" "$p-redis-1" "$p-chroma-1" >/dev/null 2>&1
docker network rm "${p}_default" >/dev/null 2>&1
docker volume rm "${p}_pg" "${p}_redis" "${p}_chroma" >/dev/null 2>&1
true
