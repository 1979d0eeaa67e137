#!/usr/bin/env bash
# Recording overhead: 2-node boots with and without --profile, interleaved in one run.
#   profiling/overhead.sh [--runs N] [--variant stock|tuned] [--workload NAME]
# Prints each run's total time (boot to power-off), the medians and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 variant=tuned workload=hello
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --variant) variant=$2; shift 2 ;;
        --workload) workload=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--variant stock|tuned] [--workload NAME]" >&2; exit 2 ;;
    esac
done
dir=build/overhead-runs
rm -rf "$dir"; mkdir -p "$dir"
plain=() profiled=()
for i in $(seq "$runs"); do
    for mode in plain profiled; do
        extra=(); [ "$mode" = profiled ] && extra=(--profile)
        host/launcher/dsmvm-launch --quiet --run-dir "$dir/$mode-$i" --nodes 2 \
            --variant "$variant" --workload "$workload" --timeout 600 "${extra[@]}" \
            > "$dir/$mode-$i.out" 2>&1 || { echo "$mode run $i failed: see $dir/$mode-$i.out"; exit 1; }
        t=$(jq .total_time_s "$dir/$mode-$i/summary.json")
        echo "run $i $mode: $t s"
        if [ "$mode" = plain ]; then plain+=("$t"); else profiled+=("$t"); fi
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }
ratios=()
for i in $(seq 0 $((runs - 1))); do
    ratios+=("$(awk -v a="${plain[$i]}" -v b="${profiled[$i]}" 'BEGIN { printf "%.3f", b / a }')")
done
mp=$(median "${plain[@]}") mr=$(median "${profiled[@]}") mq=$(median "${ratios[@]}")
echo "pair ratios (profiled/unprofiled, same round): ${ratios[*]}"
awk -v a="$mp" -v b="$mr" -v n="$runs" -v sa="$(spread "${plain[@]}")" \
    -v sb="$(spread "${profiled[@]}")" -v q="$mq" -v sq="$(spread "${ratios[@]}")" 'BEGIN {
    printf "median of %d: unprofiled %.2f s [%s], profiled %.2f s [%s], ratio %.3fx\n",
           n, a, sa, b, sb, b / a
    printf "median of the pair ratios: %.3fx [%s]\n", q, sq }'
