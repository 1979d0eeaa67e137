#!/usr/bin/env bash
# Check that the guest kernel's copy of the hypercall ABI header (carried by the
# patch series as arch/x86/include/asm/dsmvm_hypercall.h) defines exactly the
# same constants as hypercalls/dsmvm-hypercall.h, which QEMU uses.
#
# Usage: check-abi-sync.sh [kernel copy]
#   Without an argument the copy is extracted from the patch in
#   guest-kernel-patches/ that creates it; with one, that file is used (e.g. a
#   patched kernel tree's arch/x86/include/asm/dsmvm_hypercall.h).
# Exit status 0 when every #define matches (name and value), 1 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
HDR=$HERE/dsmvm-hypercall.h
KPATH=arch/x86/include/asm/dsmvm_hypercall.h
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [ $# -ge 1 ]; then
    cp "$1" "$TMP/kernel.h"
    src=$1
else
    patch=$(grep -l "^+++ b/$KPATH\$" "$ROOT"/guest-kernel-patches/*.patch 2>/dev/null | head -n 1 || true)
    [ -n "$patch" ] || { echo "no patch in guest-kernel-patches/ creates $KPATH" >&2; exit 1; }
    # The new file's hunk: every '+' line after its '+++' header up to the next diff.
    awk -v f="+++ b/$KPATH" '
        $0 == f { on = 1; next }
        on && /^@@/ { next }
        on && /^diff --git / { exit }
        on && /^\+/ { print substr($0, 2) }
    ' "$patch" > "$TMP/kernel.h"
    src="$(basename "$patch") ($KPATH)"
fi

# "#define NAME VALUE" with comments dropped and white space normalised.
defines() {
    sed -e 's|/\*.*\*/||g' -e 's|//.*$||' "$1" |
        awk '$1 == "#define" { name = $2; $1 = ""; $2 = ""; v = $0; gsub(/[ \t]+/, "", v); print name, v }' |
        LC_ALL=C sort
}
defines "$HDR" > "$TMP/a"
defines "$TMP/kernel.h" > "$TMP/b"

n=$(wc -l < "$TMP/a")
if diff -u --label "hypercalls/dsmvm-hypercall.h" --label "$src" "$TMP/a" "$TMP/b"; then
    echo "ABI constants in sync: $n #defines identical in hypercalls/dsmvm-hypercall.h and $src"
    if ! cmp -s "$HDR" "$TMP/kernel.h"; then
        echo "note: the files differ outside the #define lines:"
        diff -u "$HDR" "$TMP/kernel.h" || true
    fi
    exit 0
fi
echo "ABI constants OUT OF SYNC between hypercalls/dsmvm-hypercall.h and $src" >&2
exit 1
