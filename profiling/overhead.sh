#!/usr/bin/env bash
# Recording overhead: 2-node boots with and without --profile, interleaved in one run.
#   profiling/overhead.sh [--runs N] [--variant stock|tuned] [--workload NAME]
# Each round runs both arms back to back, the first arm alternating from round to round
# (a boot right after another one starts on a warmer page cache). Prints each run's total
# time (boot to power-off) and DSM faults, the medians, the median of the per-round ratios,
# and the same for time per DSM fault: a boot's fault count swings by 1.5x from run to run,
# and time per fault takes that swing out.
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
case "$runs" in ''|*[!0-9]*|0) echo "--runs takes a positive number, not '$runs'" >&2; exit 2 ;; esac
dir=build/overhead-runs
rm -rf "$dir"; mkdir -p "$dir"
declare -A time faults
for i in $(seq "$runs"); do
    order="plain profiled"; [ $((i % 2)) -eq 0 ] && order="profiled plain"
    for mode in $order; do
        extra=(); [ "$mode" = profiled ] && extra=(--profile)
        host/launcher/dsmvm-launch --quiet --run-dir "$dir/$mode-$i" --nodes 2 \
            --variant "$variant" --workload "$workload" --timeout 600 "${extra[@]}" \
            > "$dir/$mode-$i.out" 2>&1 || { echo "$mode run $i failed: see $dir/$mode-$i.out"; exit 1; }
        time[$mode-$i]=$(jq .total_time_s "$dir/$mode-$i/summary.json")
        faults[$mode-$i]=$(jq .dsm_faults_total "$dir/$mode-$i/summary.json")
        echo "round $i/$runs $mode: ${time[$mode-$i]} s, ${faults[$mode-$i]} DSM faults"
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3g-%.3g", lo, hi }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4g", a / b }'; }
pt=() rt=() pf=() rf=() ratio_t=() ratio_f=()
for i in $(seq "$runs"); do
    pt+=("${time[plain-$i]}") rt+=("${time[profiled-$i]}")
    a=$(div "${time[plain-$i]}" "${faults[plain-$i]}") b=$(div "${time[profiled-$i]}" "${faults[profiled-$i]}")
    pf+=("$(div "$a" 1e-6)") rf+=("$(div "$b" 1e-6)")
    ratio_t+=("$(div "${time[profiled-$i]}" "${time[plain-$i]}")") ratio_f+=("$(div "$b" "$a")")
done
echo "round ratios, total time (profiled/unprofiled): ${ratio_t[*]}"
echo "round ratios, time per DSM fault:               ${ratio_f[*]}"
printf 'median of %d: total time unprofiled %s s [%s], profiled %s s [%s]\n' "$runs" \
    "$(median "${pt[@]}")" "$(spread "${pt[@]}")" "$(median "${rt[@]}")" "$(spread "${rt[@]}")"
printf 'median of %d: time per DSM fault unprofiled %s us [%s], profiled %s us [%s]\n' "$runs" \
    "$(median "${pf[@]}")" "$(spread "${pf[@]}")" "$(median "${rf[@]}")" "$(spread "${rf[@]}")"
printf 'overhead, median of the round ratios: total time %sx [%s], time per fault %sx [%s]\n' \
    "$(median "${ratio_t[@]}")" "$(spread "${ratio_t[@]}")" \
    "$(median "${ratio_f[@]}")" "$(spread "${ratio_f[@]}")"
