#!/usr/bin/env bash
# time-limit: 460: one 2-node run, the launcher stops it at 400 s
# The tuned guest keeps the state the tick writes (jiffies, its sequence count, the next-period
# and last-update stamps, the timekeeper core, the fast timekeepers) on one page, the tick page,
# which it publishes by write-update: on 2 nodes that page takes at most 4 faults and 4
# invalidations per node (a run shows none), where in the stock guest each of these pages
# takes thousands. The guest sets its clock and calls adjtimex 30 times each, from both CPUs:
# those writers of the timekeeper publish through the shadow too (one plain store each would
# be 60 faults or more, and a reader spinning on the timekeeper's sequence count on the other
# node adds one per store). The vDSO time data (the vvar page, guest patch 0016), which the
# tick rewrites and `date` reads on both CPUs, is published the same way: at most 4 faults
# per node there too, where a kernel without 0016 takes 55 or more on each.
. tests/lib.sh
map=build/guest/tuned/System.map
[ -r "$map" ] || skip "no $map (make guest-tuned)"
addr() { awk -v s="$1" '$3 == s { print $1; exit }' "$map"; }
start=$(addr __dsmvm_tick_start)
[ -n "$start" ] || fail "__dsmvm_tick_start is not in $map: tuned kernel without CONFIG_DSMVM_TICK_WRITE_UPDATE"
for sym in jiffies_64 jiffies_seq tick_next_period last_jiffies_update tk_core tk_fast_mono tk_fast_raw; do
    a=$(addr "$sym")
    [ -n "$a" ] || fail "$sym is not in $map"
    [ $((0x$a >> 12)) -eq $((0x$start >> 12)) ] || fail "$sym (0x$a) is not on the tick page (0x$start)"
done
echo "tick page 0x$start holds jiffies_64 jiffies_seq tick_next_period last_jiffies_update tk_core tk_fast_mono tk_fast_raw"

launch tick-tuned --nodes 2 --variant tuned --workload clock-set --args 30,5 --watch jiffies_64,_vdso_data --timeout 400 \
    || fail "tuned: launcher failed"
console | grep 'dsmvm:' || true
console | grep -q 'dsmvm: tick page .* is published by write-update' || fail "tuned: the tick page is not write-update"
console | grep -q 'tick page publish failed' && fail "tuned: a publish failed"
console | grep -q 'dsmvm: vDSO data .* is published by write-update' || fail "tuned: the vDSO data is not write-update"
console | grep -q 'vDSO data publish failed' && fail "tuned: a vDSO data publish failed"
console | grep -q 'DSMVM-CLOCK-SET: 30 clock settings and 30 adjtimex calls on 2 CPUs' \
    || fail "tuned: the clock-set workload did not finish"
total=$(summary '.total_time_s')
updates=$(summary '[.nodes[].wu_updates] | add')
echo "write-updates: $updates in ${total:-?} s"
# HZ=100 with an idle tick: at least a few per second over the run.
[ "$updates" -gt 200 ] || fail "tuned: only $updates write-updates"
wu_page_quiet "tick page" jiffies_64
wu_page_quiet "vDSO data page" _vdso_data
