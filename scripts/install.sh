#!/bin/sh
# Install onramp into a user directory (default ~/.local/bin) from a release archive, after
# checking its SHA-256 against the release's checksum file (SHA256SUMS). Linux, macOS and WSL;
# never needs root. scripts/install.ps1 is the same, step for step, for Windows.
#
#   sh install.sh [--dir DIR] [--version V] [--base URL] [--target TRIPLE] [--dry-run]
#   sh install.sh --archive onramp-V-TRIPLE.tar.gz [--sha256 SHA256SUMS] [--dir DIR] [--dry-run]
#
# Environment: ONRAMP_INSTALL_BASE (release location), ONRAMP_INSTALL_DIR, ONRAMP_VERSION,
# ONRAMP_INSTALL_TARGET: the same as the options.
set -eu

# The project's release location: a placeholder until releases are published. ONRAMP_INSTALL_BASE
# or --base points at a real one (a directory holding SHA256SUMS and the archives).
DEFAULT_BASE="https://onramp.invalid/releases/latest/download"

usage() {
  cat <<'EOF'
Install onramp into a user directory from a release archive, checking its SHA-256.

Usage: install.sh [options]
  --dir DIR        install into DIR (default: $ONRAMP_INSTALL_DIR, $XDG_BIN_HOME or ~/.local/bin)
  --version V      install version V (default: the newest in the release's SHA256SUMS)
  --base URL       release location holding SHA256SUMS and the archives ($ONRAMP_INSTALL_BASE)
  --archive FILE   install from this archive (offline); its checksum comes from SHA256SUMS
                   beside it, FILE.sha256, or --sha256
  --sha256 FILE    checksum file for --archive
  --target TRIPLE  the archive's target (default: detected, e.g. x86_64-unknown-linux-gnu)
  --dry-run        say what would happen; download, write and change nothing
  -h, --help       this text
EOF
}

say() { printf 'onramp-install: %s\n' "$*"; }

# die WHAT [HELP]: the error, the fix, exit 1; nothing has been installed at any call site.
die() {
  printf 'onramp-install: error: %s\n' "$1" >&2
  if [ -n "${2:-}" ]; then printf '  help: %s\n' "$2" >&2; fi
  exit 1
}

usage_error() {
  printf 'onramp-install: error: %s\n  help: run with --help for the options\n' "$1" >&2
  exit 2
}

dry_run=0
dir=${ONRAMP_INSTALL_DIR:-}
version=${ONRAMP_VERSION:-}
base=${ONRAMP_INSTALL_BASE:-}
target=${ONRAMP_INSTALL_TARGET:-}
archive=""
sums=""
name=""

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    -h | --help) usage; exit 0 ;;
    --dir | --version | --base | --archive | --sha256 | --target)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case "$1" in
        --dir) dir=$2 ;;
        --version) version=$2 ;;
        --base) base=$2 ;;
        --archive) archive=$2 ;;
        --sha256) sums=$2 ;;
        --target) target=$2 ;;
      esac
      shift ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done

# Step 1: platform and architecture -> target triple.
detect_target() {
  os=$(uname -s)
  arch=$(uname -m)
  case "$arch" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) die "no onramp release for the CPU architecture $arch" \
      "build it from source: cargo install --path . (in a clone of onramp)" ;;
  esac
  case "$os" in
    Linux)
      libc=gnu
      if ldd --version 2>&1 | grep -qi musl || ls /lib/ld-musl-* >/dev/null 2>&1; then
        libc=musl
      fi
      platform="Linux $arch ($libc)"
      if grep -qi microsoft /proc/sys/kernel/osrelease 2>/dev/null; then
        platform="$platform under WSL"
      fi
      detected="$arch-unknown-linux-$libc" ;;
    Darwin)
      # A shell under Rosetta reports x86_64 on Apple silicon; the native build is better.
      if [ "$arch" = x86_64 ] && [ "$(sysctl -n hw.optional.arm64 2>/dev/null || true)" = 1 ]; then
        arch=aarch64
      fi
      platform="macOS $arch"
      detected="$arch-apple-darwin" ;;
    MINGW* | MSYS* | CYGWIN*)
      die "this is Windows" "run scripts/install.ps1 in PowerShell instead" ;;
    *)
      die "no onramp release for the operating system $os" \
        "build it from source: cargo install --path . (in a clone of onramp)" ;;
  esac
}
platform=""
detected=""
detect_target
if [ -z "$target" ]; then
  target=$detected
fi

# Tools: a SHA-256 program, tar, and (to download) curl or wget.
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | awk '{print $1}'; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | awk '{print $1}'; }
elif command -v openssl >/dev/null 2>&1; then
  sha256() { openssl dgst -sha256 -r "$1" | awk '{print $1}'; }
else
  die "no SHA-256 program (sha256sum, shasum or openssl) to verify the download with" \
    "install coreutils (sha256sum) or openssl with your package manager"
fi
command -v tar >/dev/null 2>&1 || die "no tar to unpack the archive with" \
  "install tar with your package manager"

if [ -z "$dir" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set, so there is no default install directory" \
    "pass --dir DIR"
  dir=${XDG_BIN_HOME:-$HOME/.local/bin}
fi
dest="$dir/onramp"
[ ! -d "$dest" ] || die "$dest is a directory" "remove it, or install elsewhere with --dir DIR"

tmp=""
staged=""
cleanup() {
  if [ -n "$staged" ]; then rm -f "$staged"; fi
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make_tmp() {
  [ -n "$tmp" ] || tmp=$(mktemp -d "${TMPDIR:-/tmp}/onramp-install.XXXXXX") \
    || die "cannot create a temporary directory in ${TMPDIR:-/tmp}" "set TMPDIR to a writable directory"
}

# fetch URL FILE. Plain http only to this machine: the checksum comes from the same place.
fetch() {
  case "$1" in
    https://* | file://*) ;;
    http://127.0.0.1[:/]* | http://localhost[:/]* | "http://[::1]"[:/]*) ;;
    http://*) die "refusing to download $1 over plain http" "use an https:// release location" ;;
    *) die "not a URL: $1" "--base and ONRAMP_INSTALL_BASE take https://..., or use --archive FILE" ;;
  esac
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$2" "$1" || die "cannot download $1" \
      "check the release location (--base, ONRAMP_INSTALL_BASE) and the network, or download the archive and SHA256SUMS yourself and use --archive FILE"
  elif command -v wget >/dev/null 2>&1; then
    case "$1" in file://*) die "wget cannot read $1" "install curl, or use --archive FILE" ;; esac
    wget -q -O "$2" "$1" || die "cannot download $1" \
      "check the release location (--base, ONRAMP_INSTALL_BASE) and the network, or download the archive and SHA256SUMS yourself and use --archive FILE"
  else
    die "neither curl nor wget is installed to download with" \
      "install curl, or download the archive and SHA256SUMS yourself and use --archive FILE"
  fi
}

# expected_sum SUMS NAME: the hash SUMS gives for NAME (sha256sum's format, `*` binary marker
# allowed), or the only hash in a one-hash file.
expected_sum() {
  awk -v n="$2" '
    { f = $2; sub(/^\*/, "", f) }
    f == n { print $1; found = 1; exit }
    NF == 1 { only = $1; lines++ }
    END { if (!found && lines == 1 && NR == 1) print only }
  ' "$1" | tr 'A-F' 'a-f'
}

# check_name NAME: NAME is an onramp archive for $target.
check_name() {
  case "$1" in
    onramp-*-"$target".tar.gz) ;;
    *) die "$1 is not an onramp archive for this machine ($target)" \
      "use onramp-VERSION-$target.tar.gz, or pass --target TRIPLE if you know it runs here" ;;
  esac
}

# Step 2: the archive and its checksum file, local or from the release location.
if [ -n "$archive" ]; then
  [ -f "$archive" ] || die "no archive at $archive" "give the path of an onramp-VERSION-$target.tar.gz"
  name=$(basename "$archive")
  check_name "$name"
  if [ -z "$sums" ]; then
    if [ -f "$(dirname "$archive")/SHA256SUMS" ]; then
      sums="$(dirname "$archive")/SHA256SUMS"
    elif [ -f "$archive.sha256" ]; then
      sums="$archive.sha256"
    else
      die "no checksum file for $archive (looked for SHA256SUMS beside it and $name.sha256)" \
        "put the release's SHA256SUMS beside the archive, or pass --sha256 FILE"
    fi
  fi
  [ -f "$sums" ] || die "no checksum file at $sums" "pass the release's SHA256SUMS with --sha256 FILE"
  source_text="$archive (checksum from $sums)"
else
  base=${base:-$DEFAULT_BASE}
  case "$base" in
    *.invalid/* | *.invalid)
      die "no release location is configured in this copy of the installer" \
        "set ONRAMP_INSTALL_BASE=URL (or --base URL) to where the release's archives and SHA256SUMS are, or use --archive FILE" ;;
  esac
  base=${base%/}
  if [ -n "$version" ]; then
    name="onramp-$version-$target.tar.gz"
    check_name "$name"
  fi
  source_text="$base/${name:-onramp-VERSION-$target.tar.gz} (checksum from $base/SHA256SUMS)"
fi

say "platform: $platform -> $target"
say "archive:  $source_text"
if [ -e "$dest" ]; then
  say "install:  $dest (replacing $("$dest" --version 2>/dev/null || echo 'the file there'))"
else
  say "install:  $dest"
fi

if [ "$dry_run" = 1 ]; then
  if [ -n "$archive" ]; then
    want=$(expected_sum "$sums" "$name")
    [ -n "$want" ] || die "$sums has no checksum for $name" "use the SHA256SUMS published with this archive"
    if [ "$(sha256 "$archive")" = "$want" ]; then
      say "checksum: ok ($want)"
    else
      die "checksum mismatch for $archive: the file is corrupt or was tampered with" \
        "download it again from the release; nothing was installed"
    fi
  fi
  say "dry run: nothing was downloaded, written or changed"
  exit 0
fi

make_tmp
if [ -z "$archive" ]; then
  fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS"
  sums="$tmp/SHA256SUMS"
  if [ -z "${name:-}" ]; then
    name=$(awk '{ f = $2; sub(/^\*/, "", f); print f }' "$sums" \
      | grep -E "^onramp-[^/]+-$target\\.tar\\.gz\$" | { sort -V 2>/dev/null || cat; } | tail -n 1 || true)
    [ -n "$name" ] || die "the release at $base has no archive for $target" \
      "build from source: cargo install --path . (in a clone of onramp), or pip install onramp"
  fi
  fetch "$base/$name" "$tmp/$name"
  archive="$tmp/$name"
fi

# Step 3: verify the SHA-256 before anything is unpacked or installed.
want=$(expected_sum "$sums" "$name")
[ -n "$want" ] || die "$sums has no checksum for $name" "use the SHA256SUMS published with this archive"
got=$(sha256 "$archive")
if [ "$got" != "$want" ]; then
  die "checksum mismatch for $name: expected $want, got $got; the file is corrupt or was tampered with" \
    "download it again from the release; nothing was installed"
fi
say "checksum: ok ($got)"

# Step 4: unpack and check that the binary runs here.
mkdir "$tmp/unpacked"
tar -xzf "$archive" -C "$tmp/unpacked" || die "cannot unpack $name" "download it again from the release"
# Only a regular file is installed: `-f` follows links, so a link (the binary, or the folder
# that holds it) is refused first, or the archive could install whatever it points at.
top="$tmp/unpacked/${name%.tar.gz}"
bin="$top/onramp"
if [ ! -e "$bin" ] && [ ! -L "$bin" ] && [ ! -L "$top" ]; then bin="$tmp/unpacked/onramp"; fi
for part in "$top" "$bin"; do
  if [ -L "$part" ]; then
    die "$name: ${part#"$tmp/unpacked/"} is a symbolic link; onramp installs only a regular file from the archive" \
      "use an archive made by scripts/dist.sh; nothing was installed"
  fi
done
[ -e "$bin" ] || die "$name holds no onramp binary" "use an archive made by scripts/dist.sh"
[ -f "$bin" ] || die "$name: ${bin#"$tmp/unpacked/"} is not a regular file" \
  "use an archive made by scripts/dist.sh; nothing was installed"
new_version=$("$bin" --version 2>/dev/null) || die "the onramp in $name does not run on this machine ($platform)" \
  "use the archive for $detected, or build from source: cargo install --path ."

# Step 5: install atomically: a temporary file in the same directory, renamed over the old one.
mkdir -p "$dir" || die "cannot create $dir" "pick a directory you can write with --dir DIR (no root needed)"
dir=$(cd "$dir" && pwd)
dest="$dir/onramp"
staged=$(mktemp "$dir/.onramp.XXXXXX") || die "cannot write in $dir" \
  "pick a directory you can write with --dir DIR (no root needed)"
cp "$bin" "$staged" || die "cannot write $staged" "check the free space in $dir"
chmod 755 "$staged"
mv -f "$staged" "$dest" || die "cannot replace $dest" "check the permissions of $dir"
staged=""
say "installed $new_version at $dest"

# Step 6: PATH. The running shell cannot be changed from here: say what to add, per shell.
case ":${PATH:-}:" in
  *":$dir:"*)
    found=$(command -v onramp 2>/dev/null || true)
    if [ -n "$found" ] && [ "$found" != "$dest" ]; then
      say "note: $found comes before $dest on PATH; remove it or move $dir earlier"
    fi ;;
  *)
    say "$dir is not on your PATH. Add it for your shell, then open a new terminal:"
    # shellcheck disable=SC2016 # printed for the user's shell to expand, not this one
    p='$PATH'
    printf '  bash:  echo '\''export PATH="%s:%s"'\'' >> ~/.bashrc\n' "$dir" "$p"
    printf '  zsh:   echo '\''export PATH="%s:%s"'\'' >> ~/.zshrc\n' "$dir" "$p"
    printf '  fish:  fish_add_path %s\n' "$dir"
    printf '  other: echo '\''export PATH="%s:%s"'\'' >> ~/.profile\n' "$dir" "$p"
    printf '  this terminal only: export PATH="%s:%s"\n' "$dir" "$p" ;;
esac
