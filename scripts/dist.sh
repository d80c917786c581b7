#!/usr/bin/env bash
# The release archive for this platform, onramp-<version>-<target>.tar.gz (.zip for Windows; a
# directory holding the binary, README.md and the completion scripts), and SHA256SUMS over every archive and wheel
# in the output directory: what scripts/install.sh downloads and verifies.
#
#   scripts/dist.sh [--out DIR] [--binary PATH]
#     --out DIR      where to write (default: dist/)
#     --binary PATH  package this already built onramp instead of `cargo build --release --locked`
#   ONRAMP_DIST_RUN  a command that runs the binary when this machine cannot run it directly
#                    (scripts/windows.sh dist runs onramp.exe under Wine this way)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/dist"
binary=""

die() {
  printf 'dist: error: %s\n' "$1" >&2
  [ -z "${2:-}" ] || printf '  help: %s\n' "$2" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a path"; binary=$2; shift ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1" "scripts/dist.sh [--out DIR] [--binary PATH]" ;;
  esac
  shift
done

if [ -z "$binary" ]; then
  (cd "$root" && cargo build --release --locked --bin onramp)
  binary="$root/target/release/onramp"
fi
[ -x "$binary" ] || die "no executable onramp at $binary" "build it first: cargo build --release"

runbin() {
  if [ -n "${ONRAMP_DIST_RUN:-}" ]; then
    # shellcheck disable=SC2086 # a command with its arguments
    $ONRAMP_DIST_RUN "$@"
  else
    "$binary" "$@"
  fi
}

# The binary says what it is: "onramp 0.1.0 (commit abc1234, target x86_64-unknown-linux-gnu)".
line=$(runbin --version) || die "$binary --version failed"
version=$(printf '%s\n' "$line" | sed -n 's/^onramp \([^ ]*\) .*/\1/p')
target=$(printf '%s\n' "$line" | sed -n 's/.*, target \([^)]*\))$/\1/p')
if [ -z "$version" ] || [ -z "$target" ]; then
  die "cannot read the version and target from: $line"
fi

name="onramp-$version-$target"
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# Windows archives are .zip holding onramp.exe (what scripts/install.ps1 expects).
exe=onramp
ext=tar.gz
case "$target" in *windows*) exe=onramp.exe; ext=zip ;; esac

mkdir "$stage/$name"
cp "$binary" "$stage/$name/$exe"
chmod 755 "$stage/$name/$exe"
cp "$root/README.md" "$stage/$name/README.md"
mkdir "$stage/$name/completions"
runbin completions bash >"$stage/$name/completions/onramp.bash"
runbin completions zsh >"$stage/$name/completions/_onramp"
runbin completions fish >"$stage/$name/completions/onramp.fish"
runbin completions powershell >"$stage/$name/completions/onramp.ps1"

if [ "$ext" = zip ]; then
  (cd "$stage" && python3 -m zipfile -c "$name.zip" "$name")
else
  # Reproducible with GNU tar: sorted names, fixed owner and times (the commit's time).
  epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
  repro=()
  if tar --version 2>/dev/null | grep -q 'GNU tar'; then
    repro=(--sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch")
  fi
  tar ${repro[@]+"${repro[@]}"} -C "$stage" -cf - "$name" | gzip -n >"$stage/$name.tar.gz"
fi
mv -f "$stage/$name.$ext" "$out/$name.$ext"

(
  cd "$out"
  shopt -s nullglob
  files=(onramp-*.tar.gz onramp-*.zip onramp-*.whl)
  if command -v sha256sum >/dev/null; then
    sha256sum "${files[@]}" >.SHA256SUMS.tmp
  else
    shasum -a 256 "${files[@]}" >.SHA256SUMS.tmp # macOS
  fi
  mv -f .SHA256SUMS.tmp SHA256SUMS
)
printf 'dist: %s\n' "$out/$name.$ext" "$out/SHA256SUMS"
