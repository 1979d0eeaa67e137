#!/usr/bin/env bash
# Install, idempotently, everything the project needs from the Debian archive.
# Also adds the two archive entries the build needs: bookworm-backports (meson >= 1.5
# for QEMU 10) and a deb-src entry for trixie (the QEMU 10.0 source package).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    die "make deps installs Debian packages and must run as root (try: sudo make deps)"
fi
[ -r /etc/debian_version ] || die "this project needs a Debian 12 (bookworm) x86_64 host"
[ "$(uname -m)" = x86_64 ] || die "this project needs an x86_64 host, not $(uname -m)"

SRC_LIST=/etc/apt/sources.list.d/dsmvm.sources
want_list=$(cat <<'LIST'
# Added by dsmvm's scripts/deps.sh
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
LIST
)
updated=0
if [ ! -f "$SRC_LIST" ] || [ "$(cat "$SRC_LIST")" != "$want_list" ]; then
    step "adding bookworm-backports and deb-src trixie to apt sources"
    printf '%s\n' "$want_list" > "$SRC_LIST"
    updated=1
fi

PKGS=(
    # toolchain and QEMU build dependencies
    build-essential git pkg-config python3 python3-venv ninja-build dpkg-dev
    libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev flex bison
    # kernel build
    bc libelf-dev libssl-dev cpio xz-utils kmod rsync
    linux-source-6.12
    # guest firmware and userspace
    seabios qemu-system-data busybox-static sysbench stress-ng
    # DSM library: USDT probes, fuzzing and sanitizer runtimes
    systemtap-sdt-dev clang libclang-rt-14-dev
    # tests and profiling
    linux-perf iproute2 procps psmisc python3-pexpect jq
    # dsmvm-prof: plots, and the HTML report rendered headless in its test
    gnuplot-nox chromium
)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
meson_ok=0
if command -v meson >/dev/null && dpkg --compare-versions "$(meson --version)" ge 1.5; then
    meson_ok=1
fi

if [ ${#missing[@]} -eq 0 ] && [ $meson_ok -eq 1 ]; then
    step "all Debian packages already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ $updated -eq 1 ] || [ ! -d /var/lib/apt/lists ] || \
   [ -z "$(ls /var/lib/apt/lists/*bookworm-backports* 2>/dev/null)" ]; then
    step "apt-get update"
    apt-get update -q || die "apt-get update failed: is the Debian archive reachable?"
fi
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${#missing[@]} packages: ${missing[*]}"
    for p in "${missing[@]}"; do
        apt-cache show "$p" >/dev/null 2>&1 || die "package '$p' cannot be found in the configured Debian archive"
    done
    apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed for: ${missing[*]}"
fi
if [ $meson_ok -eq 0 ]; then
    step "installing meson from bookworm-backports (QEMU 10 needs meson >= 1.5)"
    apt-get install -y -q --no-install-recommends -t bookworm-backports meson \
        || die "meson from bookworm-backports could not be installed"
fi
step "dependencies installed"
