#!/usr/bin/env bash
# time-limit: 960: one profiled 2-node boot (launcher --timeout 400), the report and a headless browser, all under its own 900 s limit
# A profiled stock boot on 2 nodes (TCG): the report's hot pages include the jiffies page,
# whose accesses name jiffies_64/jiffies as data and the timer-tick code as code (acceptance
# 1); the profiler's per-node fault counts equal the DSM's own counters within 1 % (2); the
# text report fits 100 columns and the HTML report renders in headless Chromium with its
# plots (4). suggest lists hot kernel variables that share their page (5). The run removes
# the uprobes it made.
. tests/lib.sh
[ "$(id -u)" -eq 0 ] || skip "needs root (perf probes, userfaultfd)"
command -v perf > /dev/null || skip "perf is missing (make deps)"
exec 3>&1
main() {
make -s -C profiling
PROF=profiling/dsmvm-prof
launch prof-stock --nodes 2 --variant stock --workload hello --profile --timeout 400 \
    || fail "launcher failed: $(tail -n 3 "$RUN/node0.log" 2>/dev/null)"
# the probes were made for this run and are gone with it
! grep sdt_dsm /sys/kernel/tracing/uprobe_events || fail "the profiled run left its uprobes behind"
$PROF report "$RUN" --quiet --json --top 40 --no-html > "$RUN/prof.json" || fail "report --json"
$PROF report "$RUN" --top 40 --detail 40 --out "$RUN/profile/report" > "$RUN/prof.txt" \
    || fail "report"
sed -n '1,40p' "$RUN/prof.txt"

# 1. The jiffies page among the hot pages, with data and code symbols.
jpage=$(jq '[.pages[] | select(.symbols | index("jiffies_64") or index("jiffies"))][0]' "$RUN/prof.json")
[ "$jpage" != null ] || fail "no page holding jiffies_64 among the 40 hottest"
echo "jiffies page: $(jq -c '{gpn, faults, cross_node_writes, verdict}' <<< "$jpage")"
jq -r '.accesses[:8][] | "  n\(.node) \(if .write then "W" else "R" end) \(.offset) \(.data_symbol) \(.code_symbol) \(.faults)"' <<< "$jpage"
tick='^(tick_do_update_jiffies64|do_timer|tick_sched_do_timer|tick_periodic|tick_do_timer|timekeeping_advance|update_wall_time)\+'
jq -e --arg tick "$tick" '[.accesses[] | select(.write and (.data_symbol | test("^jiffies(_64)?$"))
        and (.code_symbol | test($tick)))] | length > 0' <<< "$jpage" > /dev/null ||
    fail "no write to jiffies_64/jiffies from the timer-tick code on the jiffies page"
grep -q "jiffies" <(sed -n '/^Table 2/,$p' "$RUN/prof.txt") || fail "table 2 (text) lacks jiffies"

# 2. Fault counts against the DSM's counters, per node.
for i in 0 1; do
    dsm=$(summary ".nodes[$i].read_faults + .nodes[$i].write_faults")
    got=$(jq ".nodes[$i].faults" "$RUN/prof.json")
    echo "node$i: DSM counted $dsm faults, the profiler $got"
    awk -v a="$dsm" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= a / 100) }' \
        || fail "node$i: profiler $got vs DSM $dsm faults: more than 1 % apart"
done

# 5. suggest: at least one variable, each a data/bss symbol of the recorded System.map that
# shares its page (the page the list names, or the one it starts on) with another symbol.
$PROF suggest "$RUN" > "$RUN/hot-symbols.list" || fail "suggest"
cat "$RUN/hot-symbols.list"
python3 - "$RUN/hot-symbols.list" "$RUN/profile/System.map" <<'PY' || fail "suggest's list"
import sys
syms = [(int(a, 16), t, n) for a, t, n in (l.split()[:3] for l in open(sys.argv[2]))]
base = 0xffffffff80000000
rows = [l.split() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
if not rows:
    sys.exit("suggest listed no symbol")
for row in rows:
    name = row[0]
    va = [a for a, t, n in syms if n == name and t in "dDbB"]
    if not va:
        sys.exit(f"{name} is not a d/D/b/B symbol of the System.map")
    pages = {va[0] >> 12, (int(row[2], 16) << 12 | base) >> 12}
    others = [n for a, t, n in syms if a >> 12 in pages and a != va[0]]
    if not others:
        sys.exit(f"{name} is alone on its page")
    print(f"{name}: shares its page with {len(others)} symbols")
PY
awk 'length > 100 { print "line " NR ": " length " columns"; bad = 1 } END { exit bad }' \
    "$RUN/hot-symbols.list" || fail "the suggest output is wider than 100 columns"

# 4. 100 columns; HTML with its plots in headless Chromium.
awk 'length > 100 { print "line " NR ": " length " columns"; bad = 1 } END { exit bad }' \
    "$RUN/prof.txt" || fail "the text report is wider than 100 columns"
bash tests/integration/lib-prof-html.sh "$RUN/profile/report/report.html" 3 ||
    fail "the HTML report did not render with its plots"
echo "prof-stock-boot: ok"
}
export -f main fail skip launch summary console
export LAUNCH
timeout 900 bash -c 'set -euo pipefail; main' || exit $?
