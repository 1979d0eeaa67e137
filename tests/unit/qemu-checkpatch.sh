#!/usr/bin/env bash
# Our QEMU code passes QEMU's own scripts/checkpatch.pl without an ERROR (warnings are
# allowed and counted): hw/dsmvm, include/hw/dsmvm, the fuzz target and the hook patches.
# time-limit: 120: runs QEMU's checkpatch.pl over our QEMU files and patches
# checkpatch.pl comes from the QEMU tree (build/qemu-src, unpacked by `make qemu`) or, when
# QEMU came from the build cache without unpacking, from the cached QEMU source tarball;
# without either the test fails. It first checks that checkpatch does report an ERROR for a
# line over 90 characters, so that a broken invocation cannot pass silently.
set -euo pipefail
fail() { echo "FAIL: $*"; exit 1; }

cd "$(dirname "$0")/../.."
command -v perl >/dev/null || fail "perl is missing: run 'make deps'"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CHECKPATCH=build/qemu-src/scripts/checkpatch.pl
if [ ! -f "$CHECKPATCH" ]; then
    tarball=$(ls -t "${DSMVM_CACHE:-/var/cache/dsmvm}"/src/qemu_*.orig.tar.xz 2>/dev/null | head -n 1)
    [ -n "$tarball" ] ||
        fail "$CHECKPATCH is missing and no cached QEMU source: run 'make qemu' first"
    tar -xJf "$tarball" -C "$tmp" --wildcards 'qemu-*/scripts/checkpatch.pl' ||
        fail "no scripts/checkpatch.pl in $tarball"
    CHECKPATCH=$(ls "$tmp"/qemu-*/scripts/checkpatch.pl)
    echo "checkpatch.pl from $tarball"
fi

# checkpatch FILE [-f]: its whole report; "-f" checks a source file, without it a patch.
checkpatch() {
    local file=$1 mode=${2:-}
    # Exit status 1 just means it found something: the report's totals line decides.
    perl "$CHECKPATCH" --no-tree --color=never ${mode:+"$mode"} "$file" 2>&1 || true
}

# totals REPORT: "ERRORS WARNINGS" from the "total: N errors, M warnings, ..." line.
totals() {
    sed -n 's/^total: \([0-9][0-9]*\) errors, \([0-9][0-9]*\) warnings, .*/\1 \2/p' <<< "$1"
}

# The check must be able to fail: a line over 90 characters is an ERROR.
{
    echo '/* SPDX-License-Identifier: GPL-2.0-or-later */'
    echo 'int checkpatch_probe(void);'
    echo
    echo 'int checkpatch_probe(void)'
    echo '{'
    printf '    return %s;\n' "$(printf '1 + %.0s' {1..30})1"
    echo '}'
} > "$tmp/probe.c"
report=$(checkpatch "$tmp/probe.c" -f)
read -r probe_errors _ <<< "$(totals "$report")" || true
if ! grep -q '^ERROR: line over 90 characters' <<< "$report" ||
   [ "${probe_errors:-0}" -lt 1 ]; then
    echo "$report"
    fail "checkpatch did not report an ERROR for a line over 90 characters"
fi
echo "self-check: checkpatch reports the line over 90 characters as an ERROR"

shopt -s nullglob
sources=() patches=()
for glob in 'host/qemu/files/hw/dsmvm/*.[ch]' 'host/qemu/files/include/hw/dsmvm/*.h' \
            'host/qemu/fuzz/*.c'; do
    # shellcheck disable=SC2206 # the glob is meant to expand here
    found=($glob)
    [ ${#found[@]} -gt 0 ] || fail "no file matches $glob"
    sources+=("${found[@]}")
done
patches=(host/qemu/patches/*.patch)
[ ${#patches[@]} -gt 0 ] || fail "no file matches host/qemu/patches/*.patch"

total_errors=0 total_warnings=0 bad=()
check() {
    local file=$1 mode=${2:-} report errors warnings
    report=$(checkpatch "$file" "$mode")
    read -r errors warnings <<< "$(totals "$report")" || true
    if [ -z "${errors:-}" ]; then
        echo "$report"
        fail "checkpatch printed no totals line for $file"
    fi
    printf '%-72s %s\n' "$file" "$(grep '^total:' <<< "$report")"
    if [ "$errors" -gt 0 ]; then
        grep -A3 '^ERROR' <<< "$report" | sed 's/^/    /'
        bad+=("$file")
    fi
    total_errors=$((total_errors + errors))
    total_warnings=$((total_warnings + warnings))
}
for f in "${sources[@]}"; do
    check "$f" -f
done
for p in "${patches[@]}"; do
    check "$p"
done

echo "${#sources[@]} files and ${#patches[@]} patches: $total_errors errors, $total_warnings warnings"
[ "$total_errors" -eq 0 ] || fail "checkpatch ERRORs in: ${bad[*]}"
echo "qemu-checkpatch: no ERROR (warnings are allowed)"
