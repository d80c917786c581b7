#!/usr/bin/env bash
# onramp for Windows (x86_64-pc-windows-gnu), built, linted and tested on this Linux machine:
#
#   scripts/windows.sh build   release onramp.exe -> target/windows/onramp.exe
#   scripts/windows.sh lint    clippy for the Windows target: --all-targets -- -D warnings
#   scripts/windows.sh test    lint, then the unit and integration tests as Windows programs
#                              under Wine (the Windows suite drives the debug onramp.exe)
#   scripts/windows.sh dist [--out DIR]  the release build packed by scripts/dist.sh: the .zip
#                              with onramp.exe and its SHA256SUMS line
#   scripts/windows.sh setup   only make the toolchain
#   scripts/windows.sh run CMD...  run CMD in the build environment, in the project's copy (e.g.
#                              `run cargo test --target x86_64-pc-windows-gnu --lib -- ports`)
#
# The toolchain lives in a Debian 13 (trixie) chroot under /var/cache/onramp-test/windows (made
# once by debootstrap from the Debian mirror in this machine's apt sources, reused afterwards):
# rustc-web/cargo-web with rust-web-src, so -Zbuild-std builds the Windows standard library
# (RUSTC_BOOTSTRAP=1), mingw-w64 as linker, Wine to run the .exe files. Nothing from Debian 13 is
# installed into this system. The project is copied into the chroot for each run (timestamps kept);
# the chroot's cargo home, target directory and Wine prefix are kept, so a second run is quick.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${ONRAMP_TEST_CACHE:-/var/cache/onramp-test}/windows"
chroot_dir="$cache/trixie"
suite="trixie"
packages="ca-certificates rustc-web cargo-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64 wine64"
target="x86_64-pc-windows-gnu"

log() { printf 'windows: %s\n' "$*" >&2; }
die() {
  printf 'windows: error: %s\n' "$1" >&2
  [ -z "${2:-}" ] || printf '  help: %s\n' "$2" >&2
  exit 1
}

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

# The Debian mirror this machine already uses (never written into the repository).
mirror() { "$root/scripts/apt-mirror.sh" || die "no Debian mirror found in the apt sources" "add one to /etc/apt/sources.list"; }

# Mount points under DIR, deepest first (a chroot is only ever removed with nothing mounted in it).
mounts_under() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r
}

unmount_all() {
  local m
  for m in $(mounts_under "$1"); do umount "$m" 2>/dev/null || umount -l "$m"; done
}

remove_tree() {
  unmount_all "$1"
  [ -z "$(mounts_under "$1")" ] || die "$1 still has mounts; not removing it"
  rm -rf --one-file-system "$1"
}

mount_proc() {
  local dir=$1
  mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
}

# Name resolution and the CA certificates this machine trusts (a company proxy's root included),
# so cargo inside can fetch crates.
copy_host_files() {
  local dir=$1
  cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$dir/usr/local/share/ca-certificates"
    cp -L /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
  fi
}

in_chroot() {
  local dir=$1
  shift
  chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

# What the chroot holds; a change here installs the new packages into the existing chroot.
recipe() { printf '%s %s v1\n' "$suite" "$packages"; }

install_packages() {
  local dir=$1
  copy_host_files "$dir"
  mount_proc "$dir"
  in_chroot "$dir" update-ca-certificates >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  in_chroot "$dir" sh -c "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $packages" >"$cache/apt.log" 2>&1 \
    || die "apt-get install in the $suite chroot failed" "re-run scripts/windows.sh setup; the chroot is at $dir"
  in_chroot "$dir" update-ca-certificates >/dev/null 2>&1 || true
  in_chroot "$dir" apt-get clean
  umount "$dir/proc"
  recipe >"$dir/.onramp-recipe"
}

# Make the chroot once: debootstrap into a temporary directory, install, then rename, so an
# interrupted set-up leaves nothing that looks finished. A changed package list is installed
# into the existing chroot.
setup() {
  mkdir -p "$cache"
  if [ -f "$chroot_dir/.onramp-recipe" ]; then
    if [ "$(cat "$chroot_dir/.onramp-recipe")" != "$(recipe)" ]; then
      log "package list changed: installing into $chroot_dir"
      install_packages "$chroot_dir"
    fi
    return 0
  fi
  [ ! -e "$chroot_dir" ] || remove_tree "$chroot_dir"
  command -v debootstrap >/dev/null || die "debootstrap is not installed" "apt-get install debootstrap"
  local tmp="$chroot_dir.partial" m start
  [ ! -e "$tmp" ] || remove_tree "$tmp"
  m=$(mirror)
  start=$(date +%s)
  log "debootstrap --variant=minbase $suite into $tmp (log: $cache/debootstrap.log)"
  debootstrap --variant=minbase "$suite" "$tmp" "$m" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; remove_tree "$tmp"; die "debootstrap $suite failed"; }
  log "installing $packages"
  install_packages "$tmp"
  mv "$tmp" "$chroot_dir"
  log "toolchain ready in $(($(date +%s) - start)) s: $chroot_dir"
}

# The chroot's working area: the project copy, cargo's home and target directory, Wine's prefix.
build_env() {
  printf '%s\n' \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/build/home LANG=C.UTF-8 \
    CARGO_HOME=/build/cargo-home CARGO_TARGET_DIR=/build/target CARGO_TERM_COLOR=never \
    RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64 \
    WINEPREFIX=/build/wine WINEDEBUG=-all WINEDLLOVERRIDES=winemenubuilder.exe=d \
    XDG_RUNTIME_DIR=/build/run "ONRAMP_BUILD_COMMIT=$commit"
}

in_build() {
  local envs
  mapfile -t envs < <(build_env)
  chroot "$chroot_dir" /usr/bin/env -i "${envs[@]}" sh -c 'cd /build/src && exec "$@"' sh "$@"
}

# Copy the project (tracked and untracked-but-not-ignored files; timestamps kept, so cargo rebuilds
# only what changed) to /build/src in the chroot.
sync_source() {
  local stage="$chroot_dir/build/src.new"
  rm -rf --one-file-system "$stage"
  mkdir -p "$stage"
  if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
      [ -e "$f" ] && printf '%s\0' "$f"
    done | tar --null -T - -cf -) | tar -C "$stage" -xf -
  else
    tar -C "$root" --exclude=./target --exclude=./dist -cf - . | tar -C "$stage" -xf -
  fi
  rm -rf --one-file-system "$chroot_dir/build/src"
  mv "$stage" "$chroot_dir/build/src"
}

cleanup() {
  local m
  for m in $(mounts_under "$chroot_dir"); do umount "$m" 2>/dev/null || umount -l "$m"; done
}

prepare() {
  setup
  trap cleanup EXIT
  mount_proc "$chroot_dir"
  copy_host_files "$chroot_dir"
  mkdir -p "$chroot_dir/build/home" "$chroot_dir/build/run" "$chroot_dir/build/cargo-home"
  chmod 700 "$chroot_dir/build/run"
  commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  sync_source
}

timed() {
  local what=$1 start
  shift
  start=$(date +%s)
  log "$what"
  "$@"
  log "$what: done in $(($(date +%s) - start)) s"
}

lint() {
  timed "clippy --target $target --all-targets -- -D warnings" \
    in_build cargo clippy --locked --target "$target" --all-targets -- -D warnings
}

build() {
  timed "release build of onramp.exe" \
    in_build cargo build --locked --release --target "$target" --bin onramp
  mkdir -p "$root/target/windows"
  cp "$chroot_dir/build/target/$target/release/onramp.exe" "$root/target/windows/onramp.exe"
  log "built $root/target/windows/onramp.exe"
}

# The unit tests and the integration tests, each test program run by Wine (cargo's runner).
unit_and_integration() {
  timed "build of the test programs" \
    in_build cargo test --locked --target "$target" --no-run
  timed "tests under Wine" \
    in_build cargo test --locked --target "$target" --no-fail-fast "$@"
}

# scripts/dist.sh on the release onramp.exe, which it runs under Wine (for --version and the
# completion scripts).
dist() {
  build
  local envs
  envs=$(build_env | tr '\n' ' ')
  ONRAMP_DIST_RUN="chroot $chroot_dir /usr/bin/env -i $envs /usr/lib/wine/wine64 /build/target/$target/release/onramp.exe" \
    "$root/scripts/dist.sh" --binary "$root/target/windows/onramp.exe" "$@"
}

main() {
  [ "$(id -u)" = 0 ] || die "scripts/windows.sh needs root (debootstrap, chroot, mount)"
  local cmd=${1:-}
  [ $# -eq 0 ] || shift
  case "$cmd" in
    setup | build | lint | test | run | dist) ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  mkdir -p "$cache"
  exec 9>"$cache/lock"
  flock 9
  case "$cmd" in
    setup) setup ;;
    build) prepare; build ;;
    lint) prepare; lint ;;
    test) prepare; lint; unit_and_integration "$@" ;;
    run) prepare; in_build "$@" ;;
    dist) prepare; dist "$@" ;;
  esac
}

main "$@"
