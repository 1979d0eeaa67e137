# Shared helpers for the build scripts: progress lines, timing and errors.
# shellcheck shell=bash

die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

# require_busybox: the static busybox the guest images are built around. Not grep -q: busybox
# writes its list line by line, and one that grep stopped reading dies of SIGPIPE, which
# pipefail reports as a missing busybox.
BUSYBOX=/bin/busybox
require_busybox() {
    [ -x "$BUSYBOX" ] && "$BUSYBOX" --list | grep -x poweroff > /dev/null ||
        die "busybox-static is missing: run 'make deps'"
}

# timed LABEL CMD...: run CMD, then say how long it took.
timed() {
    local label=$1; shift
    local t0=$SECONDS
    step "$label ..."
    "$@" || { local rc=$?; printf '\033[1;31m==>\033[0m %s failed after %d s\n' "$label" $((SECONDS - t0)) >&2; return $rc; }
    step "$label done in $((SECONDS - t0)) s"
}

# Project root, build directory and the cache kept outside the repository.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CACHE=${DSMVM_CACHE:-/var/cache/dsmvm}

# hash_inputs FILE_OR_DIR...: a stable hash of the contents of everything given (paths
# inside a directory count, the location of the checkout does not).
hash_inputs() {
    local p
    for p in "$@"; do
        if [ -d "$p" ]; then
            (cd "$p" && find . \( -name build -o -name .git \) -prune -o -type f ! -name '*~' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
        elif [ -e "$p" ]; then
            # Content only: the same inputs in another clone must give the same key.
            sha256sum < "$p"
        else
            echo "absent $p"
        fi
    done | sha256sum | cut -c1-16
}
