#!/usr/bin/env bash
# Check that the hot kernel objects each sit on 4 KiB pages of their own.
#
# Usage: check-cacheline.sh System.map [vmlinux]
#
# For each hot object (jiffies_64, the HPET clocksource reader lock+value `hpet`
# of arch/x86/kernel/hpet.c, rcu_state; another list with HOT="sym1 sym2 ...", of which
# REQUIRED="..." must exist),
# report the page(s) it occupies and fail if another data object starts on them.
# (6.12 has no hot `hpet_lock` variable: `union hpet_lock` is the type of `hpet`,
# and the `hpet_lock` symbol is the cold spinlock of the /dev/hpet driver.)  Symbols at the same address are
# one object under several names (jiffies is jiffies_64) and do not count.
# Only kernel-image data symbols (types D d B b R r G g S s V v) are considered;
# per-CPU symbols (zero-based offsets) are ignored.
#
# System.map has no sizes, so by default only the page of the object's first
# byte is checked.  With a vmlinux (argument 2, or `vmlinux` next to System.map)
# the sizes from `nm -S` are used: every page the object spans is checked, and so
# is an earlier object that runs into the first page.
#
# The dsmvm tick page (__dsmvm_tick_start .. __dsmvm_tick_end, CONFIG_DSMVM_TICK_WRITE_UPDATE)
# holds the timekeeping state the tick writes, jiffies_64 among it, and is published as a
# whole: an object on it may share it with the other objects of the tick page, and only them.
#
# Exit status: 0 if every hot object is alone on its pages, 1 otherwise.
# The physical addresses printed assume the kernel runs at its link address
# (no KASLR; tinyconfig-based guests have RANDOMIZE_BASE off).
set -euo pipefail

MAP=${1:?usage: $0 System.map [vmlinux]}
VMLINUX=${2:-$(dirname "$MAP")/vmlinux}
HOT=${HOT:-"jiffies_64 hpet rcu_state"}
REQUIRED=${REQUIRED-"jiffies_64 rcu_state"}   # must exist; the others are checked if present
[ -r "$MAP" ] || { echo "cannot read $MAP" >&2; exit 2; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# address(16 hex) type name [size(16 hex)], kernel-image data symbols only, sorted.
awk '$2 ~ /^[DdBbRrGgSsVv]$/ && length($1) == 16 && $1 >= "ffff800000000000" { print $1, $2, $3 }' \
    "$MAP" | LC_ALL=C sort > "$TMP/syms"
have_sizes=0
if [ -r "$VMLINUX" ] && command -v nm >/dev/null; then
    nm -S "$VMLINUX" 2>/dev/null |
        awk 'NF == 4 && $3 ~ /^[DdBbRrGgSsVv]$/ && $1 >= "ffff800000000000" { print $1, $2, $4 }' |
        LC_ALL=C sort > "$TMP/sizes"
    [ -s "$TMP/sizes" ] && have_sizes=1
fi

hex() { printf '%016x' "$1"; }
tick_lo=$(awk '$3 == "__dsmvm_tick_start" { print $1; exit }' "$MAP")
tick_hi=$(awk '$3 == "__dsmvm_tick_end" { print $1; exit }' "$MAP")
START_KERNEL_MAP=$((16#ffffffff80000000))

size_of() {   # addr name -> size in bytes, or empty
    [ "$have_sizes" = 1 ] || return 0
    awk -v a="$1" -v n="$2" '$1 == a && $3 == n { print $2; exit }' "$TMP/sizes"
}

fail=0
echo "check-cacheline: $MAP$([ "$have_sizes" = 1 ] && echo " (sizes from $VMLINUX)")"
for name in $HOT; do
    addrs=$(awk -v n="$name" '$3 == n { print $1 }' "$TMP/syms")
    if [ -z "$addrs" ]; then
        if printf '%s\n' $REQUIRED | grep -qx "$name"; then
            echo "FAIL  $name: not in System.map"; fail=1
        else
            echo "SKIP  $name: not in System.map"
        fi
        continue
    fi
    for a in $addrs; do
        addr=$((16#$a))
        first=$(( addr & ~0xfff ))
        sz=$(size_of "$a" "$name")
        if [ -n "$sz" ] && [ $((16#$sz)) -gt 0 ]; then
            last=$(( (addr + 16#$sz - 1) & ~0xfff ))
            szdesc="size $((16#$sz))"
        else
            last=$first
            szdesc="size unknown"
        fi
        lo=$(hex $first); hi=$(hex $((last + 0xfff)))
        aliases=$(awk -v a="$a" -v n="$name" '$1 == a && $3 != n { printf "%s ", $3 }' "$TMP/syms")
        # Other objects starting on the pages of this one.
        tlo=; thi=
        if [ -n "$tick_lo" ] && [[ "$a" > "$tick_lo" || "$a" == "$tick_lo" ]] && [[ "$a" < "$tick_hi" ]]; then
            tlo=$tick_lo; thi=$tick_hi      # on the tick page: its other objects are fine
            name_note=" (on the tick page)"
        else
            name_note=
        fi
        others=$(awk -v a="$a" -v lo="$lo" -v hi="$hi" -v tlo="$tlo" -v thi="$thi" \
            '$1 >= lo && $1 <= hi && $1 != a && !(tlo != "" && $1 >= tlo && $1 < thi) \
             { if (++n <= 8) printf "%s(%s) ", $3, $1 }
             END { if (n > 8) printf "... (%d symbols in all) ", n }' "$TMP/syms")
        # An earlier object running into the first page.
        if [ "$have_sizes" = 1 ]; then
            intruder=$(awk -v a="$a" '$1 < a' "$TMP/sizes" | tail -n 50 | while read -r pa psz pn; do
                end=$(( 16#$pa + 16#$psz ))
                [ "$end" -gt $((16#$lo)) ] 2>/dev/null && [ $((16#$pa)) -lt $((16#$lo)) ] && echo "$pn($pa+$((16#$psz)))"
            done | head -n 3 | tr '\n' ' ' || true)
            others="$others$intruder"
        fi
        pages=$(( (last - first) / 4096 + 1 ))
        pa=$(( first - START_KERNEL_MAP ))
        where="va $a, page $(hex $first) ($pages page(s), pa 0x$(printf '%x' $pa), gpn $((pa >> 12))), $szdesc"
        [ -n "$aliases" ] && where="$where, aliases: ${aliases% }"
        where="$where$name_note"
        if [ -z "$others" ]; then
            echo "PASS  $name: $where"
        else
            echo "FAIL  $name: $where"
            echo "      shares its page(s) with: ${others% }"
            fail=1
        fi
    done
done
if [ "$fail" = 0 ]; then
    echo "RESULT: OK, every hot object has its page(s) to itself"
else
    echo "RESULT: SHARED, some hot objects share a page with other data"
fi
exit "$fail"
