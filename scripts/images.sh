#!/usr/bin/env bash
# Test images from Debian packages, in a local registry on 127.0.0.1, idempotently and cached:
#   one Debian rootfs (debootstrap minbase: postgresql-15, redis-server, python3 + the Chroma
#   server from PyPI), imported once, tagged as postgres / redis / chroma images with their own
#   entrypoints, and pushed to the registry (Debian's docker-registry) so `onramp up` really pulls.
# The Debian mirror is read from this machine's apt sources.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/target/test-state"
cache="${ONRAMP_TEST_CACHE:-/var/cache/onramp-test}"
registry="${ONRAMP_TEST_REGISTRY:-127.0.0.1:5000}"
chroma_version="1.5.9"
suite="bookworm"
packages="postgresql-15,redis-server,python3,python3-venv,ca-certificates,util-linux,locales"
mkdir -p "$state" "$cache"

log() { printf 'images: %s\n' "$*" >&2; }

# Scratch images for tests that must move a tag in the registry (tests/cli/lockfile.rs), kept
# under onramp-test/scratch/ so the test images above are never touched:
#   images.sh scratch push SRC NAME:TAG      tag the local image SRC as it and push it
#   images.sh scratch drop NAME:TAG|NAME@DIGEST  delete that manifest from the registry
scratch() {
  local ref="$registry/onramp-test/scratch/${3:-}"
  case "$1" in
    push)
      docker tag "$2" "$ref"
      docker push -q "$ref" >/dev/null ;;
    drop)
      local name="${2%%[:@]*}" what="${2#*[:@]}" digest
      digest="$what"
      if [[ "$2" != *@* ]]; then
        digest=$(curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
          "http://$registry/v2/onramp-test/scratch/$name/manifests/$what" \
          | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}' | tr -d '\r')
        docker rmi "$ref" >/dev/null 2>&1 || true
      fi
      [ -z "$digest" ] || curl -fsS -X DELETE "http://$registry/v2/onramp-test/scratch/$name/manifests/$digest" >/dev/null ;;
    *) log "scratch push SRC NAME:TAG | scratch drop NAME:TAG|NAME@DIGEST"; exit 2 ;;
  esac
}
if [ "${1:-}" = scratch ]; then
  shift
  case "${1:-}" in
    push) scratch push "${2:?SRC}" "${3:?NAME:TAG}" ;;
    drop) scratch drop "${2:?NAME:TAG}" "$2" ;;
    *) scratch "${1:-}" ;;
  esac
  exit 0
fi

mirror() { "$root/scripts/apt-mirror.sh" || exit 1; }

start_registry() {
  if curl -fsS "http://$registry/v2/" >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$cache/registry"
  cat > "$state/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $cache/registry
  delete:
    enabled: true
http:
  addr: $registry
YML
  log "starting docker-registry on $registry (log: $state/registry.log)"
  # Descriptors 3-9 closed: the daemon must not keep a lock flock(1) handed the caller.
  nohup docker-registry serve "$state/registry.yml" >"$state/registry.log" 2>&1 \
    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  for _ in $(seq 1 50); do
    curl -fsS "http://$registry/v2/" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "the registry did not start:"; tail -20 "$state/registry.log" >&2; exit 1
}

# What the rootfs is made of; a change here rebuilds it (the build steps themselves do not).
recipe_hash() {
  { echo "$suite $packages chromadb==$chroma_version v2"; cat "$root/scripts/images/postgres-entrypoint" "$root/scripts/images/redis-entrypoint"; } \
    | sha256sum | cut -c1-16
}

drop_stale() {
  # On a machine shared by several checkouts building different recipes, keep the others.
  [ "${ONRAMP_TEST_KEEP_STALE:-0}" = 1 ] && return 0
  local old
  for old in $(docker images onramp-test/base --format '{{.Tag}}'); do
    [ "$old" = "$hash" ] || docker rmi -f "onramp-test/base:$old" >/dev/null 2>&1 || true
  done
  docker image prune -f --filter label=dev.onramp.recipe >/dev/null 2>&1 || true
  find "$cache" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$hash.tar" -delete
}

build_rootfs() {
  local tar="$1" dir="$cache/rootfs.$$"
  log "debootstrap $suite ($packages) from $(mirror)"
  rm -rf "$dir"
  debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$(mirror)" >"$state/debootstrap.log" 2>&1 \
    || { tail -30 "$state/debootstrap.log" >&2; exit 1; }
  # Wheels are fetched on this machine, with its own package-index setup, then installed
  # offline inside the rootfs.
  local wheels="$cache/wheels-chromadb-$chroma_version"
  if [ ! -f "$wheels/.complete" ]; then
    log "fetching chromadb $chroma_version and its dependencies as wheels"
    python3 -m pip wheel -q -w "$wheels" "chromadb==$chroma_version" >"$state/wheels.log" 2>&1 \
      || { tail -30 "$state/wheels.log" >&2; exit 1; }
    touch "$wheels/.complete"
  fi
  log "installing the Chroma server $chroma_version into the rootfs"
  mkdir -p "$dir/tmp/wheels"
  cp "$wheels"/*.whl "$dir/tmp/wheels/"
  chroot "$dir" python3 -m venv /opt/chroma
  chroot "$dir" env -u PIP_FIND_LINKS /opt/chroma/bin/pip install -q --no-index --find-links /tmp/wheels \
    --disable-pip-version-check "chromadb==$chroma_version"
  rm -rf "$dir/tmp/wheels"
  install -m 0755 "$root/scripts/images/postgres-entrypoint" "$dir/usr/local/bin/postgres-entrypoint"
  install -m 0755 "$root/scripts/images/redis-entrypoint" "$dir/usr/local/bin/redis-entrypoint"
  # The official postgres image initialises with en_US.UTF-8 (so UTF8 encoding).
  sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$dir/etc/locale.gen"
  grep -q '^en_US.UTF-8 UTF-8' "$dir/etc/locale.gen" || echo 'en_US.UTF-8 UTF-8' >> "$dir/etc/locale.gen"
  chroot "$dir" locale-gen >"$state/locale-gen.log" 2>&1 || { cat "$state/locale-gen.log" >&2; exit 1; }
  rm -rf "$dir/var/cache/apt/archives"/*.deb "$dir/var/lib/apt/lists"/*
  mkdir -p "$dir/data"
  tar -C "$dir" -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$dir"
}

tag_image() {
  local name="$1" dockerfile="$2"
  if docker image inspect "$registry/onramp-test/$name" >/dev/null 2>&1 \
     && [ "$(docker image inspect -f '{{index .Config.Labels "dev.onramp.recipe"}}' "$registry/onramp-test/$name")" = "$hash" ]; then
    return 0
  fi
  printf '%s\nLABEL dev.onramp.recipe=%s\n' "$dockerfile" "$hash" | docker build -q -t "$registry/onramp-test/$name" - >/dev/null 2>"$state/build.log"
}

start_registry
hash=$(recipe_hash)
base="onramp-test/base:$hash"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  tar="$cache/rootfs-$hash.tar"
  [ -f "$tar" ] || build_rootfs "$tar"
  log "importing $tar as $base"
  docker import "$tar" "$base" >/dev/null
fi
tag_image postgres:15 "FROM $base
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PGDATA=/var/lib/postgresql/data LANG=en_US.UTF-8
EXPOSE 5432
ENTRYPOINT [\"/usr/local/bin/postgres-entrypoint\"]"
tag_image redis:7 "FROM $base
WORKDIR /data
EXPOSE 6379
ENTRYPOINT [\"/usr/local/bin/redis-entrypoint\"]
CMD [\"redis-server\"]"
tag_image "chroma:$chroma_version" "FROM $base
ENV ANONYMIZED_TELEMETRY=False
EXPOSE 8000
CMD [\"/opt/chroma/bin/chroma\", \"run\", \"--host\", \"0.0.0.0\", \"--port\", \"8000\", \"--path\", \"/data\"]"
for img in postgres:15 redis:7 "chroma:$chroma_version"; do
  docker push -q "$registry/onramp-test/$img" >/dev/null
done
drop_stale
log "ready: $registry/onramp-test/{postgres:15,redis:7,chroma:$chroma_version}"
