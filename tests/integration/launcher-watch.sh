#!/usr/bin/env bash
# time-limit: 360: one 2-node boot, the launcher stops it at 300 s
# --watch with three symbols on a 2-node guest: all three pages reach QEMU (a list property,
# not one comma string that QEMU's option parser would cut), each shows in every node's
# summary with its symbol and the GPN System.map gives, and the timekeeping pages (hot in a
# stock guest) took DSM faults. An unknown symbol is refused by name before any QEMU starts.
. tests/lib.sh
MAP=build/guest/stock/System.map
[ -f "$MAP" ] || skip "no stock guest kernel (run make guest-stock)"
syms=(jiffies_seq tk_core tick_next_period)

set +e
out=$("$LAUNCH" --quiet --run-dir build/test-runs/watch-bad --variant stock \
      --watch jiffies_seq,no_such_symbol 2>&1)
rc=$?
set -e
echo "$out"
[ $rc -eq 2 ] || fail "an unknown symbol gave exit status $rc"
grep -q 'no symbol no_such_symbol in' <<< "$out" || fail "the error does not name the symbol"
[ ! -e build/test-runs/watch-bad ] || fail "the run directory was created for a refused run"

launch watch3 --nodes 2 --variant stock --workload hello --timeout 300 \
    --watch "$(IFS=,; echo "${syms[*]}")" || fail "launcher failed: $(tail -n 3 "$RUN/node0.log")"
[ "$(summary .status)" = ok ] || fail "summary status $(summary .status)"
for i in 0 1; do
    for s in "${syms[@]}"; do
        addr=$(awk -v s="$s" '$3 == s { print $1 }' "$MAP")
        want=$(( (0x$addr - 0xffffffff80000000) >> 12 ))
        got=$(summary "[.nodes[$i].watched_pages[] | select(.symbols | index(\"$s\"))][0].gpn")
        line=$(summary "[.nodes[$i].watched_pages[] | select(.symbols | index(\"$s\"))][0]
                        | \"gpn \(.gpn) (\(.symbol)): \(.faults) faults, \(.invalidations) invalidations\"")
        echo "node$i $s: $line"
        [ "$got" = "$want" ] || fail "node$i: $s should be page $want, the summary says $got"
    done
done
faults=$(summary '[.nodes[].watched_pages[].faults] | add')
[ "$faults" -gt 0 ] || fail "the watched pages took no DSM faults at all"
echo "watched pages: $(summary '.nodes[0].watched_pages | length') per node, $faults faults in all"
