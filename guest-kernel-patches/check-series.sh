#!/usr/bin/env bash
# Check the guest kernel patch series the way the build pipeline uses it:
#  1. unpack the pristine linux-source-6.12 tree into a temporary directory,
#  2. apply every patch listed in `series`, in order, with `patch -p1 --fuzz=0`,
#  3. run the tree's scripts/checkpatch.pl on each patch (errors fail, warnings
#     are reported).
#
# Usage: check-series.sh [-s linux-source.tar.xz] [-k DIR]
#   -s  tarball of the pristine tree (default /usr/src/linux-source-6.12.tar.xz)
#   -k  keep the patched tree in DIR (must not exist) instead of deleting it
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=/usr/src/linux-source-6.12.tar.xz
KEEP=
while getopts "s:k:" opt; do
    case $opt in
        s) SRC=$OPTARG ;;
        k) KEEP=$OPTARG ;;
        *) echo "usage: $0 [-s tarball] [-k dir]" >&2; exit 2 ;;
    esac
done

[ -f "$SRC" ] || { echo "no kernel source tarball at $SRC" >&2; exit 2; }
[ -f "$HERE/series" ] || { echo "no series file in $HERE" >&2; exit 2; }
if [ -n "$KEEP" ] && [ -e "$KEEP" ]; then
    echo "$KEEP already exists" >&2; exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dsmvm-series.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

fail=0
mapfile -t patches < <(grep -v -e '^[[:space:]]*$' -e '^#' "$HERE/series")

# Every patch file is in the series and every series entry exists.
for f in "$HERE"/*.patch; do
    [ -e "$f" ] || continue
    b=$(basename "$f")
    printf '%s\n' "${patches[@]}" | grep -qxF "$b" || { echo "NOT IN SERIES: $b"; fail=1; }
done

echo "unpacking $(basename "$SRC") ..."
mkdir "$TMP/linux"
tar -xJf "$SRC" -C "$TMP/linux" --strip-components=1

for p in "${patches[@]}"; do
    if [ ! -f "$HERE/$p" ]; then
        echo "MISSING: $p"; fail=1; continue
    fi
    if (cd "$TMP/linux" && patch -p1 --fuzz=0 --batch --quiet < "$HERE/$p"); then
        echo "APPLIED: $p"
    else
        echo "FAILED TO APPLY: $p"; fail=1; break
    fi
done

# Leftovers of a fuzzy or partial application.
if find "$TMP/linux" \( -name '*.rej' -o -name '*.orig' \) | grep -q .; then
    echo "reject/orig files left in the tree:"
    find "$TMP/linux" \( -name '*.rej' -o -name '*.orig' \)
    fail=1
fi

for p in "${patches[@]}"; do
    [ -f "$HERE/$p" ] || continue
    out=$(cd "$TMP/linux" && perl scripts/checkpatch.pl --terse --show-types "$HERE/$p" 2>&1 || true)
    errors=$(printf '%s\n' "$out" | grep -c ': ERROR:' || true)
    warnings=$(printf '%s\n' "$out" | grep -c ': WARNING:' || true)
    echo "CHECKPATCH: $p: $errors errors, $warnings warnings"
    printf '%s\n' "$out" | grep -E ': (ERROR|WARNING):' | sed "s|^$HERE/||; s|^|    |" || true
    [ "$errors" -eq 0 ] || fail=1
done

if [ -n "$KEEP" ] && [ "$fail" -eq 0 ]; then
    mv "$TMP/linux" "$KEEP"
    echo "patched tree kept in $KEEP"
fi

if [ "$fail" -eq 0 ]; then
    echo "RESULT: OK (${#patches[@]} patches apply with --fuzz=0, no checkpatch errors)"
else
    echo "RESULT: FAILED"
fi
exit "$fail"
