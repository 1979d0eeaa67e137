#!/usr/bin/env bash
# time-limit: 120: builds a small C tool and checks it on recorded samples
# make bench's statistics (median, spread, ratios, percentiles) and its parsers of sysbench,
# stress-ng, perf, dsm-bench and summary.json output, checked against recorded samples; then
# `dsmvm-bench summarize` and `report` over run directories made from those samples.
set -euo pipefail
make -s -C bench all
build/bench/bin/test-bench bench/samples

fail() { echo "FAIL: $*"; exit 1; }
TOOL=build/bench/bin/dsmvm-bench
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# run CONFIG ROUND USERSPACE_S EVENTS_PER_S: a run directory like the launcher leaves.
run() {
    local d=$T/$1-$2
    mkdir -p "$d"
    jq ".time_to_userspace_s = $3" bench/samples/summary-2x1.json > "$d/summary.json"
    sed "s/events per second:  1317.69/events per second:  $4/" bench/samples/sysbench-cpu.txt \
        > "$d/serial0.log"
    "$TOOL" parse "$d" > "$d/metrics.txt"
    echo "run $1 $d" >> "$T/plan"
}
printf 'config 1x2 300 --nodes 1 --cpus 2\nconfig 2x1 300 --nodes 2\nconfig 4x1 240 --nodes 4\n' > "$T/plan"
# interleaved: 1x2 2x1 4x1, three rounds; 4x1 timed out once and was skipped afterwards
run 1x2 1 10 1600; run 2x1 1 30 320
mkdir -p "$T/4x1-1"; cp bench/samples/summary-timeout.json "$T/4x1-1/summary.json"
echo "run 4x1 $T/4x1-1" >> "$T/plan"
run 1x2 2 20 1500; run 2x1 2 80 300
run 1x2 3 12 1700; run 2x1 3 36 425

grep -qx 'time_to_userspace_s 30' "$T/2x1-1/metrics.txt" || fail "parse: time to userspace"
"$TOOL" summarize --name boot --title "test" --baseline 1x2 \
    --metrics "time_to_userspace_s sysbench_events_per_s dsm_faults_remote" \
    --out "$T/boot.json" "$T/plan"
q() { jq -r "$1" "$T/boot.json"; }
c2='.configs[] | select(.name == "2x1")'
[ "$(q "$c2.metrics.time_to_userspace_s.median")" = 36 ] || fail "median of 30 80 36"
[ "$(q "$c2.metrics.time_to_userspace_s.min")" = 30 ] || fail "min"
[ "$(q "$c2.metrics.time_to_userspace_s.max")" = 80 ] || fail "max"
[ "$(q "$c2.metrics.time_to_userspace_s.values | join(\",\")")" = "30,80,36" ] || fail "values in round order"
# ratio of medians 36/12 = 3; pairs 30/10 = 3, 80/20 = 4, 36/12 = 3
[ "$(q "$c2.metrics.time_to_userspace_s.ratio")" = 3 ] || fail "ratio of medians"
[ "$(q "$c2.metrics.time_to_userspace_s.ratio_min")" = 3 ] || fail "ratio_min"
[ "$(q "$c2.metrics.time_to_userspace_s.ratio_max")" = 4 ] || fail "ratio_max"
[ "$(q "$c2.metrics.sysbench_events_per_s.ratio")" = 0.2 ] || fail "events/s ratio 320/1600"
[ "$(q '.configs[] | select(.name == "1x2") | .metrics.time_to_userspace_s.ratio')" = null ] ||
    fail "the baseline has no ratio"
[ "$(q '.configs[] | select(.name == "4x1") | [.runs, .ok, .timeouts] | join(",")')" = 1,0,1 ] ||
    fail "a timeout counts as a timeout"
[ "$(q '.configs[] | select(.name == "4x1") | .metrics.time_to_userspace_s.n')" = 0 ] ||
    fail "a timed-out run gives no number"

mkdir -p "$T/out"
"$TOOL" report --out-dir "$T/out" "$T/boot.json" > "$T/table.txt"
cat "$T/table.txt"
grep -q '4x1 .*timeout: 1 of 1 runs exceeded 240 s' "$T/table.txt" || fail "timeout in the table"
grep -Eq '2x1 +time_to_userspace_s +36 +\[30 - 80\] +3x +\[3 - 4\]' "$T/table.txt" ||
    fail "table row of 2x1"
jq -e '.benchmarks[0].benchmark == "boot"' "$T/out/bench.json" > /dev/null || fail "bench.json"
grep -q '^"boot 2x1" 3 3 4$' "$T/out/ratios.dat" || fail "ratios.dat"
echo "summarize and report: ok"
