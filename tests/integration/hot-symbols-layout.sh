#!/usr/bin/env bash
# The profile-guided layout (guest patch 0009, CONFIG_DSMVM_HOT_SYMBOLS): every variable of
# guest-kernel-patches/hot-symbols.list sits on a page of its own in the tuned kernel, which
# the build compiled with that list, and shares one in the stock kernel (so the check can
# fail); the list is well formed; the kernel's generator refuses a malformed list.
# (dsmvm-prof suggest, which writes such a list from a recorded profile, is checked on a
# real stock recording by prof-stock-boot.sh.)
# time-limit: 60: reads System.map files and runs a shell generator
set -euo pipefail
fail() { echo "FAIL: $*"; exit 1; }
LIST=guest-kernel-patches/hot-symbols.list
syms=$(sed -e 's/#.*//' "$LIST" | awk 'NF { print $1 }')
[ -n "$syms" ] || fail "$LIST lists no variable"
echo "$LIST: $(wc -w <<< "$syms") variables: $(echo $syms)"
bad=$(grep -vxE '[A-Za-z_][A-Za-z0-9_.]*' <<< "$syms" || true)
[ -z "$bad" ] || fail "not variable names: $bad"
grep -q '^CONFIG_DSMVM_HOT_SYMBOLS=y' build/guest/tuned/.config || fail "tuned kernel built without CONFIG_DSMVM_HOT_SYMBOLS"

echo "== tuned"
HOT=$syms REQUIRED=$syms bash guest-kernel-patches/check-cacheline.sh build/guest/tuned/System.map \
    build/guest/tuned/vmlinux || fail "a listed variable shares its page in the tuned kernel"
echo "== stock (the listed variables share pages there)"
out=$(HOT=$syms REQUIRED=$syms bash guest-kernel-patches/check-cacheline.sh \
    build/guest/stock/System.map build/guest/stock/vmlinux || true)
echo "$out" | grep -E '^(PASS|FAIL)' || true
shared=$(grep -c '^FAIL' <<< "$out" || true)
[ "$shared" -gt 0 ] || fail "every listed variable is already alone in the stock kernel: the check proves nothing"
echo "$shared of $(wc -w <<< "$syms") listed variables share a page in stock"

# The kernel's generator (from the patch) on good and bad lists.
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
awk '/^\+\+\+ b\/scripts\/dsmvm-hot-symbols.sh/ { on = 1; next } on && /^diff --git/ { on = 0 }
     on && /^\+/ { print substr($0, 2) }' \
    guest-kernel-patches/0009-x86-dsmvm-Give-listed-hot-variables-a-page-of-their-.patch > "$T/gen.sh"
[ -s "$T/gen.sh" ] || fail "no scripts/dsmvm-hot-symbols.sh in patch 0009"
sh "$T/gen.sh" "$LIST" > "$T/hot.h" || fail "the generator refused $LIST"
for s in $syms; do
    grep -qF "*(.data.$s)" "$T/hot.h" && grep -qF "*(.bss.$s)" "$T/hot.h" || fail "$s missing in the generated macros"
done
printf 'good_one\n1bad\n' > "$T/bad.list"
if sh "$T/gen.sh" "$T/bad.list" > /dev/null 2> "$T/err"; then fail "a list with '1bad' was accepted"; fi
grep -q '1bad' "$T/err" || fail "the refusal does not name the bad line: $(cat "$T/err")"
printf 'twice\ntwice\n' > "$T/dup.list"
if sh "$T/gen.sh" "$T/dup.list" > /dev/null 2>&1; then fail "a name listed twice was accepted"; fi
echo "hot-symbols-layout: ok"
