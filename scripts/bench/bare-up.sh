#!/usr/bin/env bash
# The physical limit for `up`: the same three containers started bare (docker run, in parallel),
# then a tight external loop of each service's own client until all answer.
set -euo pipefail
reg="$1"; p=benchbare
docker network create "${p}_default" >/dev/null
docker run -d --name "$p-postgres-1" --network "${p}_default" -p 127.0.0.1:25432:5432 \
  -e POSTGRES_DB=horme_test_db -e POSTGRES_USER=test_user -e POSTGRES_PASSWORD=test_password \
  -v "${p}_pg:/var/lib/postgresql/data" "$reg/onramp-test/postgres:15" >/dev/null &
docker run -d --name "$p-redis-1" --network "${p}_default" -p 127.0.0.1:26379:6379 \
  -v "${p}_redis:/data" "$reg/onramp-test/redis:7" >/dev/null &
docker run -d --name "$p-chroma-1" --network "${p}_default" -p 127.0.0.1:28000:8000 \
  -v "${p}_chroma:/data" "$reg/onramp-test/chroma:1.5.9" >/dev/null &
wait
until psql "postgresql://test_user:test_password@127.0.0.1:25432/horme_test_db" -qtAc 'SELECT 1' >/dev/null 2>&1; do sleep 0.01; done &
until [ "$(redis-cli -p 26379 ping 2>/dev/null)" = PONG ]; do sleep 0.01; done &
until curl -fsS http://127.0.0.1:28000/api/v2/heartbeat >/dev/null 2>&1; do sleep 0.01; done &
wait
