#!/usr/bin/env bash
# Compare guests in one run: boot to userspace, power off, and report time and DSM faults.
#   profiling/compare.sh [--workload NAME] [--out FILE.json] [--profile]
# Configurations (each a launcher run on this machine):
#   1 node x 2 vCPUs and 2 nodes x 1 vCPU, stock and tuned;
#   tuned on 2 nodes with its options added one at a time: 4 KB cache lines only (host hidden),
#   + raw HPET reads (no write-update), + jiffies write-update (all).
# Prints a table and writes every summary into one JSON file (default build/compare.json).
# With --profile every run is recorded and dsmvm-prof compares stock with tuned on 2 nodes
# and 1 node with 2 nodes (tuned): text here, HTML under build/compare-runs/*/profile/compare.
set -euo pipefail
cd "$(dirname "$0")/.."
workload=hello out=build/compare.json profile=
while [ $# -gt 0 ]; do
    case "$1" in
        --workload) workload=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --profile) profile=--profile; shift ;;
        *) echo "usage: $0 [--workload NAME] [--out FILE.json] [--profile]" >&2; exit 2 ;;
    esac
done
runs=build/compare-runs
rm -rf "$runs"; mkdir -p "$runs"
configs=(
    "stock-1x2|--nodes 1 --cpus 2 --variant stock"
    "stock-2x1|--nodes 2 --variant stock"
    "tuned-1x2|--nodes 1 --cpus 2 --variant tuned"
    "tuned-2x1|--nodes 2 --variant tuned"
    "tuned-2x1-cacheline-only|--nodes 2 --variant tuned --guest-features 0"
    "tuned-2x1-cacheline+hpet|--nodes 2 --variant tuned --guest-features 1"
    "tuned-2x1-no-publish|--nodes 2 --variant tuned --guest-features 3"
)
printf '%-28s %8s %8s %10s %12s %10s\n' config userspace total dsm_faults invalidations jiffies_pg
for c in "${configs[@]}"; do
    name=${c%%|*}; args=${c#*|}
    # shellcheck disable=SC2086
    if ! host/launcher/dsmvm-launch --quiet --run-dir "$runs/$name" --workload "$workload" \
            --timeout 600 $profile $args > "$runs/$name.out" 2>&1; then
        echo "$name: FAILED (see $runs/$name.out)"; continue
    fi
    jq -r --arg n "$name" '[$n, .time_to_userspace_s, .total_time_s, .dsm_faults_total,
        ([.nodes[].invalidations_received] | add),
        ([.nodes[].watched_pages[0].faults] | add)] | @tsv' "$runs/$name/summary.json" |
        awk -F'\t' '{ printf "%-28s %7.1fs %7.1fs %10d %12d %10d\n", $1, $2, $3, $4, $5, $6 }'
done
jq -s 'map({(.run): .}) | add' <(for c in "${configs[@]}"; do
    name=${c%%|*}
    [ -f "$runs/$name/summary.json" ] && jq --arg n "$name" '. + {run: $n}' "$runs/$name/summary.json"
done) > "$out"
echo "summaries: $out"
if [ -n "$profile" ]; then
    make -s -C profiling
    for pair in "stock-2x1 tuned-2x1" "tuned-1x2 tuned-2x1"; do
        set -- $pair
        [ -d "$runs/$1/profile" ] && [ -d "$runs/$2/profile" ] || continue
        echo; echo "== dsmvm-prof compare $1 $2"
        profiling/dsmvm-prof compare "$runs/$1" "$runs/$2" --quiet --out "$runs/$2/profile/compare-$1"
    done
fi
