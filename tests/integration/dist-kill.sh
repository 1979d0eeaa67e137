#!/usr/bin/env bash
# kill -9 of node 1 mid-run: node 0 stops with a clear error within 5 s, no process is left
# behind, and the launcher exits non-zero.
# time-limit: 360: one 2-node run killed midway, the launcher stops it at 300 s
. tests/lib.sh
RUN=$PWD/build/test-runs/kill   # absolute: the node command lines name it so
rm -rf "$RUN"; mkdir -p build/test-runs
"$LAUNCH" --quiet --run-dir "$RUN" --nodes 2 --variant tuned --workload stress-cpu --args 120 \
    --timeout 300 > "$RUN.out" 2>&1 &
launcher=$!
# Whatever happens here, no guest is left running behind this test.
trap 'kill $launcher 2>/dev/null || true; pkill -f "cluster=$RUN/" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    grep -qs 'DSMVM: userspace up' "$RUN/serial0.log" && break
    sleep 0.5
done
grep -qs 'DSMVM: userspace up' "$RUN/serial0.log" || { kill $launcher; fail "guest never came up"; }
sleep 2
node1=$(pgrep -f "dsmvm-node,id=dsmvm,node=1,cluster=$RUN/" | head -n 1 || true)
node0=$(pgrep -f "dsmvm-node,id=dsmvm,node=0,cluster=$RUN/" | head -n 1 || true)
[ -n "$node1" ] && [ -n "$node0" ] || fail "node processes not found"
t0=$(date +%s.%N)
kill -9 "$node1"
while kill -0 "$node0" 2>/dev/null; do
    sleep 0.05
    [ "$(echo "$(date +%s.%N) - $t0 > 10" | bc)" = 1 ] && break
done
elapsed=$(echo "$(date +%s.%N) - $t0" | bc)
set +e
wait $launcher
rc=$?
set -e
echo "node0 stopped $elapsed s after node1 was killed; launcher exit status $rc"
grep 'dsmvm node0' "$RUN/node0.log" | tail -n 2
[ "$(echo "$elapsed <= 5" | bc)" = 1 ] || fail "node0 took $elapsed s to stop (limit 5 s)"
grep -q 'node1 failed' "$RUN/node0.log" || fail "node0's log does not name node1's failure"
[ "$rc" -ne 0 ] || fail "the launcher exited 0"
! pgrep -f "cluster=$RUN/" >/dev/null || fail "node processes left behind"
