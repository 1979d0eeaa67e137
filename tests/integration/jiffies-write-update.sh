#!/usr/bin/env bash
# On 2 nodes the tuned guest detects the host and keeps the jiffies page write-update: its
# page takes at most 4 DSM faults and 4 invalidations per node (nothing stores into it after
# boot), while in the stock guest the jiffies page is among the hottest pages.
# time-limit: 660: two 2-node runs, the launcher stops each at 300 s
. tests/lib.sh
launch jiffies-stock --nodes 2 --variant stock --workload hello --watch jiffies_64 --timeout 300 \
    || fail "stock: launcher failed"
for i in 0 1; do
    gpn=$(summary ".nodes[$i].watched_pages[0].gpn")
    rank=$(summary "[.nodes[$i].hot_pages[].gpn] | index($gpn)")
    echo "stock node$i: jiffies page $gpn: $(summary ".nodes[$i].watched_pages[0] | \"\(.faults) faults, \(.invalidations) invalidations\""), rank $rank among hot pages"
    [ "$rank" != null ] && [ "$rank" -lt 10 ] || fail "stock: the jiffies page is not among node$i's 10 hottest"
done
launch jiffies-tuned --nodes 2 --variant tuned --workload hello --watch jiffies_64 --timeout 300 \
    || fail "tuned: launcher failed"
console | grep 'dsmvm:' || true
console | grep -q 'dsmvm: host detected, features 0x7' || fail "tuned: the host was not detected"
# jiffies_64 is updated alone (WU_WRITE64) or as part of the tick page (WU_PUBLISH).
console | grep -Eq 'dsmvm: (jiffies_64 .* is updated|tick page .* is published) by write-update' \
    || fail "tuned: jiffies not write-update"
updates=$(summary '[.nodes[].wu_updates] | add')
[ "$updates" -gt 100 ] || fail "tuned: only $updates write-updates"
wu_page_quiet "jiffies page"
echo "write-updates: $updates"
