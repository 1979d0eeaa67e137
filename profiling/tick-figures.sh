#!/usr/bin/env bash
# Figures for the timekeeping write-update work, stock against tuned in the same run, runs
# interleaved, median of ROUNDS (default 3):
#   boot     2 nodes x 1 vCPU, `hello`: DSM faults (all nodes) and faults + invalidations on
#            the page of jiffies_64 (the tick page in the tuned guest)
#   idle     2 x 1, `idle 30`: DSM faults per second between the guest's markers
#   sysbench `sysbench cpu` events per second on 2 x 1 and on 1 x 2, and their ratio
# Usage: profiling/tick-figures.sh [ROUNDS]   (results: build/tick-figures/)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
OUT=build/tick-figures
LAUNCH=host/launcher/dsmvm-launch
mkdir -p "$OUT"
: > "$OUT/results.txt"
record() { echo "$*" | tee -a "$OUT/results.txt"; }

for r in $(seq "$ROUNDS"); do
    for v in stock tuned; do
        d=$OUT/$v-boot-$r; rm -rf "$d"
        "$LAUNCH" --quiet --run-dir "$d" --nodes 2 --variant "$v" --workload hello \
            --watch jiffies_64 --timeout 400 >/dev/null 2>&1 || echo "warning: $d failed" >&2
        record "$v boot $r $(jq -r '[.dsm_faults_total, ([.nodes[].watched_pages[0].faults] | add),
            ([.nodes[].watched_pages[0].invalidations] | add), .total_time_s] | @tsv' "$d/summary.json")"

        d=$OUT/$v-idle-$r; rm -rf "$d"
        rate=$(python3 profiling/idle-rate.py "$d" --nodes 2 --variant "$v" --args 30 --timeout 400 \
               | jq -r .faults_per_s) || rate=NA
        record "$v idle $r $rate"

        for shape in "2x1|--nodes 2" "1x2|--nodes 1 --cpus 2"; do
            name=${shape%%|*}; d=$OUT/$v-sysbench-$name-$r; rm -rf "$d"
            # shellcheck disable=SC2086
            "$LAUNCH" --quiet --run-dir "$d" ${shape#*|} --variant "$v" --workload sysbench-cpu \
                --args 10 --timeout 400 >/dev/null 2>&1 || echo "warning: $d failed" >&2
            eps=$(sed -n 's/.*events per second: *\([0-9.]*\).*/\1/p' "$d/serial0.log" | tail -n 1)
            record "$v sysbench-$name $r ${eps:-NA} $(jq -r .dsm_faults_total "$d/summary.json")"
        done
    done
done

python3 - "$OUT/results.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(v, kind, col=3):
    xs = [float(r[col]) for r in rows if r[0] == v and r[1] == kind and r[col] != "NA"]
    return statistics.median(xs) if xs else float("nan")
for v in ("stock", "tuned"):
    print(f"{v:6} boot faults {med(v,'boot'):9.0f}  tick/jiffies page faults {med(v,'boot',4):6.0f}"
          f" invalidations {med(v,'boot',5):6.0f}  idle {med(v,'idle'):7.1f} faults/s"
          f"  sysbench 2x1 {med(v,'sysbench-2x1'):8.1f} 1x2 {med(v,'sysbench-1x2'):8.1f}"
          f" ratio {med(v,'sysbench-2x1')/med(v,'sysbench-1x2'):.2f}"
          f"  sysbench 2x1 faults {med(v,'sysbench-2x1',4):8.0f}")
print(f"tuned/stock boot faults: {med('tuned','boot')/med('stock','boot'):.2f}")
PY
