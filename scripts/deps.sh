#!/usr/bin/env bash
# Install, idempotently, everything the project needs from the Debian archive.
# Also adds the two archive entries the build needs: bookworm-backports (meson >= 1.5
# for QEMU 10) and a deb-src entry for trixie (the QEMU 10.0 source package).
#
#   deps.sh            install what is missing, say what it did (make deps)
#   deps.sh --quiet    the same, silent when nothing is missing (make all/run/test);
#                      the check alone takes about a second (one dpkg-query call)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

quiet=0
[ "${1:-}" = --quiet ] && quiet=1
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

PKGS=(
    # toolchain and QEMU build dependencies
    build-essential git pkg-config python3 python3-venv ninja-build dpkg-dev
    libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev flex bison
    # kernel build
    bc libelf-dev libssl-dev cpio xz-utils kmod rsync
    linux-source-6.12
    # guest firmware and userspace
    seabios qemu-system-data busybox-static sysbench stress-ng
    # DSM library: USDT probes, fuzzing and sanitizer runtimes; the RDMA transport
    systemtap-sdt-dev clang libclang-rt-14-dev
    libibverbs-dev librdmacm-dev ibverbs-providers rdma-core ibverbs-utils rdmacm-utils
    # tests and profiling
    linux-perf iproute2 procps psmisc python3-pexpect jq
    # make bench and dsmvm-prof plots; the HTML report rendered headless in its test
    gnuplot-nox chromium
)
# tests/unit/deps-check.sh adds a package that does not exist, to see it reported
[ -n "${DSMVM_DEPS_EXTRA:-}" ] && PKGS+=($DSMVM_DEPS_EXTRA)

# One dpkg-query for all packages (a package it does not know is missing too), no
# program started per package: the check must stay about a second on a loaded machine.
declare -A installed=()
while read -r name state; do
    [ "$state" = installed ] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PKGS[@]}" meson 2>/dev/null)
missing=()
for p in "${PKGS[@]}"; do
    [ -n "${installed[$p]:-}" ] || missing+=("$p")
done
meson_ok=0
if [ -n "${installed[meson]:-}" ] &&
   dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson)" ge 1.5; then
    meson_ok=1
fi
sources_ok=0
if [ -f "$SRC_LIST" ] && [ "$(cat "$SRC_LIST")" = "$want_list" ] && \
   compgen -G '/var/lib/apt/lists/*_dists_trixie_main_source_Sources*' >/dev/null; then
    sources_ok=1
fi

if [ ${#missing[@]} -eq 0 ] && [ $meson_ok -eq 1 ] && [ $sources_ok -eq 1 ]; then
    [ $quiet -eq 1 ] || step "all Debian packages already installed"
    exit 0
fi

what=()
[ ${#missing[@]} -gt 0 ] && what+=("packages: ${missing[*]}")
[ $meson_ok -eq 1 ] || what+=("meson >= 1.5 from bookworm-backports")
[ $sources_ok -eq 1 ] || what+=("the deb-src entry for trixie (QEMU 10.0 source)")
if [ "$(id -u)" -ne 0 ]; then
    printf '\033[1;31merror:\033[0m missing %s\n' "${what[0]}" >&2
    for w in "${what[@]:1}"; do printf '       missing %s\n' "$w" >&2; done
    die "installing them needs root: run 'sudo make deps' once (or make as root)"
fi

updated=0
if [ ! -f "$SRC_LIST" ] || [ "$(cat "$SRC_LIST")" != "$want_list" ]; then
    step "adding bookworm-backports and deb-src trixie to apt sources"
    printf '%s\n' "$want_list" > "$SRC_LIST"
    updated=1
fi
export DEBIAN_FRONTEND=noninteractive
if [ $updated -eq 1 ] || [ $sources_ok -eq 0 ] || \
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
