#!/usr/bin/env bash
# Compose: `docker-compose up -d` on the generated file, then wait until every container is healthy.
set -euo pipefail
dir="$1"
cd "$dir"
docker-compose -p benchcompose -f docker-compose.test.yml up -d >/dev/null 2>&1
ids=$(docker-compose -p benchcompose -f docker-compose.test.yml ps -q)
for id in $ids; do
  until [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ]; do sleep 0.05; done
done
