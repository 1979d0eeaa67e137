#!/usr/bin/env bash
# Memory cost of the tuned kernel's options against stock, same run:
#   guest-kernel-patches/memory-cost.sh [--no-boot] [--runs N]
# Static: .data, .bss and the static per-CPU area from each kernel's System.map, and what the
# tuned layout options account for (the tick page, the pages of hot-symbols.list).
# Runtime (unless --no-boot): MemFree, Percpu and Slab after boot, read by the `meminfo`
# workload, stock and tuned interleaved on 1 node x 2 vCPUs and 2 nodes x 1 vCPU, median of N.
set -euo pipefail
cd "$(dirname "$0")/.."
boot=1 runs=3
while [ $# -gt 0 ]; do
    case "$1" in
        --no-boot) boot=0; shift ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "usage: $0 [--no-boot] [--runs N]" >&2; exit 2 ;;
    esac
done
case "$runs" in ''|*[!0-9]*|0) echo "--runs takes a positive number, not '$runs'" >&2; exit 2 ;; esac
for v in stock tuned; do
    [ -r "build/guest/$v/System.map" ] || { echo "build/guest/$v/System.map is missing: run 'make guest'" >&2; exit 1; }
done

addr() { awk -v n="$2" '$3 == n { print $1; exit }' "build/guest/$1/System.map"; }
span() {   # variant start-symbol end-symbol -> bytes
    local a b
    a=$(addr "$1" "$2") b=$(addr "$1" "$3")
    [ -n "$a" ] && [ -n "$b" ] || { echo "?"; return; }
    echo $(( 16#$b - 16#$a ))
}
kib() { [ "$1" = "?" ] && echo "?" || awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

echo "== static layout (System.map), KiB"
printf '%-28s %10s %10s %10s\n' "" stock tuned "tuned-stock"
for row in "kernel image (_text.._end):_text:_end" ".data (_sdata.._edata):_sdata:_edata" \
           ".bss:__bss_start:__bss_stop" "static per-CPU area:__per_cpu_start:__per_cpu_end" \
           "init (freed after boot):__init_begin:__init_end"; do
    IFS=: read -r label s e <<< "$row"
    a=$(span stock "$s" "$e") b=$(span tuned "$s" "$e")
    d="?"; [ "$a" != "?" ] && [ "$b" != "?" ] && d=$((b - a))
    printf '%-28s %10s %10s %10s\n' "$label" "$(kib "$a")" "$(kib "$b")" "$(kib "$d")"
done
tick=$(span tuned __dsmvm_tick_start __dsmvm_tick_end)
echo "tuned, of which:"
echo "  dsmvm tick page (CONFIG_DSMVM_TICK_WRITE_UPDATE): $(kib "$tick") KiB"
hot=$(sed -e 's/#.*//' guest-kernel-patches/hot-symbols.list | awk 'NF { print $1 }')
pages=$(for s in $hot; do a=$(addr tuned "$s"); [ -n "$a" ] && echo $(( 16#$a >> 12 )); done | sort -u | wc -l)
echo "  hot-symbols.list (CONFIG_DSMVM_HOT_SYMBOLS): $(wc -w <<< "$hot") variables on $pages pages," \
     "at most $((pages * 4)) KiB, padding included"
echo "  the rest: 4 KiB cache lines (CONFIG_DSMVM_PAGE_CACHELINE: aligned and padded objects," \
     "per-CPU areas), NUMA and the other options' code"
[ "$boot" = 1 ] || exit 0

echo "== after boot (meminfo workload), KiB, median of $runs [min-max]"
dir=build/memory-cost
rm -rf "$dir"; mkdir -p "$dir"
declare -A val
for i in $(seq "$runs"); do
    for shape in 1x2 2x1; do
        for v in stock tuned; do
            run=$dir/$v-$shape-$i
            if [ "$shape" = 1x2 ]; then args=(--nodes 1 --cpus 2); else args=(--nodes 2); fi
            echo "run $i/$runs: $v $shape ..." >&2
            host/launcher/dsmvm-launch --quiet --run-dir "$run" "${args[@]}" --variant "$v" \
                --workload meminfo --timeout 600 > "$run.out" 2>&1 ||
                { echo "$v $shape run $i failed: see $run.out" >&2; exit 1; }
            mem=$(tr -d '\r' < "$run/serial0.log" | awk '$1 == "meminfo:" { print $2, $3 }')
            for k in MemTotal MemFree Percpu Slab; do
                x=$(awk -v k="$k" '$1 == k { print $2; exit }' <<< "$mem")
                [ -n "$x" ] || { echo "no meminfo $k in $run/serial0.log" >&2; exit 1; }
                val[$v-$shape-$k]="${val[$v-$shape-$k]:-} $x"
            done
        done
    done
done
med() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { printf "%d", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
with_spread() { printf '%s [%s-%s]' "$(med "$1")" "$(printf '%s\n' $1 | sort -n | head -n 1)" "$(printf '%s\n' $1 | sort -n | tail -n 1)"; }
printf '%-6s %-9s %-24s %-24s %s\n' shape "" stock tuned "tuned-stock (medians)"
for shape in 1x2 2x1; do
    for k in MemTotal MemFree Percpu Slab; do
        a=${val[stock-$shape-$k]} b=${val[tuned-$shape-$k]}
        printf '%-6s %-9s %-24s %-24s %d\n' "$shape" "$k" "$(with_spread "$a")" "$(with_spread "$b")" \
            $(( $(med "$b") - $(med "$a") ))
    done
done
