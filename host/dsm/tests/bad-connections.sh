#!/bin/sh
# bad-connections.sh BIN_DIR [tcp-cluster|tcp-timeout|shm|rdma [IP]]
#
# tcp-cluster: node 0 of 3 starts and node 2 joins it; dsm-badconn sends
#   node 0 100 connections that must be refused (30 garbage, 10 silent,
#   15 wrong secret, 15 wrong protocol version, 15 wrong cluster layout,
#   15 claiming node 2, which is connected), some concurrent; node 0's log
#   must name each one, counted by kind.  Then, while a flood of silent and
#   garbage connections (more than node 0 lets wait at once) goes on, node 1
#   starts: it must get in, and the mixed test (pages moving every way,
#   atomics, messages) must pass on all three nodes.
# tcp-timeout: node 0 of 2 waits for a node 1 that never comes, gets one
#   garbage connection meanwhile, and must fail at its connect timeout with a
#   message naming node 1 and the refused connection.
# shm: node 0 of 2 creates its shm file; processes attach in node 1's slot
#   one after the other and fail the handshake (3 garbage records, 3 other
#   versions, 3 other secrets, 3 that exit mid-handshake, 1 silent for longer
#   than the handshake deadline); node 0 must log each, by kind, and keep
#   waiting; then the real node 1 attaches and the mixed test passes.
# rdma: as tcp-cluster, over RDMA (needs an RDMA device; IP: an address of
#   its interface, default the first IPv4 address of an interface that is up
#   and not loopback).  Node 0 of 3 starts and node 2 joins it; dsm-badconn
#   --transport rdma sends node 0's rdma_cm port 40 connections that must be
#   refused (10 garbage, 5 raw frames with no valid header, 5 silent, 5
#   wrong secret, 5 wrong version, 5 wrong layout, 5 claiming node 2); node
#   0's log must name each, by kind; then node 1 joins during a flood of
#   silent connections and the mixed test passes on all three nodes.
#
# Time limits: every wait below is bounded; run-tests.sh adds 300 s overall.
set -u
BIN=${1:?bin dir}
MODE=${2:-tcp-cluster}
RDMA_IP=${3:-}
OUT=$(mktemp -d /tmp/dsm-badconn.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$OUT"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$OUT"/node*.log; do echo "--- $f"; tail -n 20 "$f"; done; exit 1; }

# wait_for FILE PATTERN COUNT SECONDS: until FILE has COUNT lines matching
wait_for() {
    i=0
    while n=$(grep -c -E "$2" "$1" 2>/dev/null); [ "${n:-0}" -lt "$3" ]; do
        i=$((i + 1))
        [ "$i" -gt $(($4 * 10)) ] && return 1
        sleep 0.1
    done
}

set -- $("$BIN/dsm-badconn" --free-ports 3)
A0=127.0.0.1:$1 A1=127.0.0.1:$2 A2=127.0.0.1:$3
node() {   # node ID NODES TIMEOUT_MS
    "$BIN/dsm-test-node" --node "$1" --nodes "$2" --threads 1 --test mixed --transport tcp \
        --addrs "$A0,$A1,$A2" --connect-timeout "$3" --verbose 2>"$OUT/node$1.log" &
    pids="$pids $!"
    eval "pid$1=$!"
}
bad() { "$BIN/dsm-badconn" --addr "$A0" "$@"; }

if [ "$MODE" = rdma ]; then
    IP=${RDMA_IP:-$("$BIN/dsm-badconn" --default-rdma-addr)}
    # rdma_cm ports below the ephemeral range: the 40 bad connections take ephemeral rdma_cm
    # ports of their own before node 1 listens, and one of them took node 1's once
    # ("cannot listen on ...: Address already in use").
    read -r eph_lo eph_hi < /proc/sys/net/ipv4/ip_local_port_range
    if [ "$eph_lo" -gt 2100 ]; then
        rport=$(( eph_lo - 1010 + $$ % 1000 ))
    else
        rport=$(( eph_hi + 1 + $$ % 1000 ))
    fi
    [ "$rport" -le 65530 ] || rport=20000
    R0=$IP:$rport R1=$IP:$((rport + 1)) R2=$IP:$((rport + 2))
    rnode() {   # node ID
        "$BIN/dsm-test-node" --node "$1" --nodes 3 --threads 1 --test mixed --transport rdma \
            --addrs "$R0,$R1,$R2" --connect-timeout 120000 --verbose 2>"$OUT/node$1.log" &
        pids="$pids $!"
        eval "pid$1=$!"
    }
    rbad() { "$BIN/dsm-badconn" --transport rdma --addr "$R0" "$@"; }
    rnode 0
    rnode 2
    wait_for "$OUT/node0.log" "node 2 connected over RDMA from" 1 60 || fail "node 2 never got in"
    rbad --kind silent --count 5 --parallel 5 >"$OUT/silent.out" 2>&1 &
    silent=$!
    sleep 0.5
    rbad --kind garbage --count 10 --parallel 5 || fail "garbage"
    rbad --kind frame --count 5 --parallel 5 || fail "raw frames"
    rbad --kind secret --count 5 --parallel 5 --claim 1 || fail "wrong secret"
    rbad --kind version --count 5 --parallel 5 --claim 1 || fail "wrong version"
    rbad --kind cluster --count 5 --parallel 5 --claim 1 || fail "wrong cluster"
    rbad --kind dup --count 5 --parallel 5 --claim 2 --secret test-secret || fail "duplicate id"
    wait "$silent" || { cat "$OUT/silent.out"; fail "silent"; }
    wait_for "$OUT/node0.log" "refused RDMA connection from" 40 30 || fail "node 0 logged fewer than 40"
    cp "$OUT/node0.log" "$OUT/phase1.log"
    count() { grep -c -E "refused RDMA connection from [^ ]+: .*($1)" "$OUT/phase1.log"; }
    ok=1
    check() {
        got=$(count "$2")
        printf '  %-8s %3d refused (want %d)\n' "$1" "$got" "$3"
        [ "$got" -eq "$3" ] || ok=0
    }
    echo "node 0 refused, by kind:"
    check garbage "not a dsm hello" 10
    check frame "malformed frame" 5
    check silent "timed out: no hello in time" 5
    check secret "authentication of node 1 failed: cluster secret differs" 5
    check version "protocol version differs" 5
    check cluster "number of nodes differs|size of region 0 differs" 5
    check dup "node 2 is already connected" 5
    total=$(grep -c "refused RDMA connection from" "$OUT/phase1.log")
    echo "  total    $total (want 40)"
    [ "$ok" -eq 1 ] && [ "$total" -eq 40 ] || fail "rejections by kind differ"
    rbad --kind silent --parallel 20 --duration-ms 6000 >"$OUT/flood.out" 2>&1 &
    f1=$!
    sleep 1
    rnode 1
    wait_for "$OUT/node0.log" "node 1 connected over RDMA from" 1 60 || fail "node 1 never got in"
    wait "$f1" || { cat "$OUT/flood.out"; fail "flood: a silent connection was kept"; }
    cat "$OUT/flood.out"
    for i in 0 1 2; do
        eval "p=\$pid$i"
        wait "$p" || fail "node $i exit status $?"
    done
    grep "node 0:" "$OUT/node0.log" | tail -n 2
    echo "PASS: 40 bad RDMA connections refused by kind; node 1 got in during a flood; mixed test passed"
    exit 0
fi

if [ "$MODE" = shm ]; then
    NAME=dsm-badconn-$$
    "$BIN/dsm-test-node" --node 0 --nodes 2 --threads 1 --test mixed --transport shm \
        --shm-name "$NAME" --connect-timeout 120000 2>"$OUT/node0.log" &
    pid0=$!
    pids="$pids $pid0"
    n=0
    for kind in garbage garbage garbage version version version secret secret secret \
                exit exit exit silent; do
        timeout 60 "$BIN/dsm-shm-rogue" --shm-name "$NAME" --kind "$kind" >>"$OUT/rogue.log" 2>&1 \
            || { cat "$OUT/rogue.log"; fail "rogue $kind"; }
        n=$((n + 1))
        # one at a time: the next attaches after node 0 emptied the slot
        wait_for "$OUT/node0.log" "refused participant for node 1" "$n" 30 \
            || fail "node 0 did not refuse rogue $n ($kind)"
    done
    cp "$OUT/node0.log" "$OUT/phase1.log"
    "$BIN/dsm-test-node" --node 1 --nodes 2 --threads 1 --test mixed --transport shm \
        --shm-name "$NAME" --connect-timeout 120000 2>"$OUT/node1.log" &
    pid1=$!
    pids="$pids $pid1"
    wait "$pid0" || fail "node 0 exit status $?"
    wait "$pid1" || fail "node 1 exit status $?"
    rm -f "/dev/shm/$NAME"
    count() { grep -c -E "refused participant for node 1 on /dev/shm/$NAME, pid [0-9]+: .*($1)" "$OUT/phase1.log"; }
    ok=1
    check() {
        got=$(count "$2")
        printf '  %-8s %3d refused (want %d)\n' "$1" "$got" "$3"
        [ "$got" -eq "$3" ] || ok=0
    }
    echo "node 0 refused, by kind:"
    check garbage "a record of 4096 bytes where the handshake expects" 3
    check version "protocol version differs" 3
    check secret "authentication of node 1 failed: cluster secret differs" 3
    check exit "process [0-9]+ exited" 3
    check silent "nothing sent in time" 1
    [ "$ok" -eq 1 ] || fail "refusals by kind differ"
    grep "node 0:" "$OUT/node0.log" | tail -n 1
    echo "PASS: 13 bad participants refused; node 1 attached afterwards; mixed test passed"
    exit 0
fi

if [ "$MODE" = tcp-timeout ]; then
    start=$(date +%s.%N)
    "$BIN/dsm-test-node" --node 0 --nodes 2 --threads 1 --test mixed --transport tcp \
        --addrs "$A0,$A1" --connect-timeout 3000 2>"$OUT/node0.log" &
    pid0=$!
    pids="$pids $pid0"
    bad --kind garbage || fail "the garbage connection was not refused and closed"
    wait "$pid0"
    rc=$?
    took=$(awk "BEGIN{print $(date +%s.%N) - $start}")
    cat "$OUT/node0.log"
    [ "$rc" -eq 3 ] || fail "node 0 exit status $rc, want 3 (dsm_start failed)"
    grep -q "timed out after 3000 ms waiting for node(s) 1 to connect (1 connection(s) refused, the last from 127.0.0.1:[0-9]*: refused peer: not a dsm hello" \
        "$OUT/node0.log" || fail "no clear timeout message"
    awk "BEGIN{exit !($took >= 3.0)}" || fail "gave up after ${took}s, before its 3 s timeout"
    echo "PASS: node 0 gave up after ${took}s (timeout 3 s) naming node 1 and the refused connection"
    exit 0
fi

# node 0 waits up to 120 s: the phase below takes ~10 s on an idle machine
node 0 3 120000
node 2 3 120000
wait_for "$OUT/node0.log" "node 2 connected from" 1 60 || fail "node 2 never got in"

# 100 bad connections.  The silent ones hold 10 of node 0's 16 handshake
# slots until its 5 s handshake deadline; the others run at most 5 at a time
# beside them, so none is pushed out and each is refused for its own reason.
bad --kind silent --count 10 --parallel 10 >"$OUT/silent.out" 2>&1 &
silent=$!
sleep 0.5
bad --kind garbage --count 30 --parallel 5 || fail "garbage"
bad --kind secret --count 15 --parallel 5 --claim 1 || fail "wrong secret"
bad --kind version --count 15 --parallel 5 --claim 1 || fail "wrong version"
bad --kind cluster --count 15 --parallel 5 --claim 1 || fail "wrong cluster"
bad --kind dup --count 15 --parallel 5 --claim 2 --secret test-secret || fail "duplicate id"
wait "$silent" || { cat "$OUT/silent.out"; fail "silent"; }
wait_for "$OUT/node0.log" "refused connection from" 100 30 || fail "node 0 logged fewer than 100"
cp "$OUT/node0.log" "$OUT/phase1.log"

count() { grep -c -E "refused connection from 127\.0\.0\.1:[0-9]+: .*($1)" "$OUT/phase1.log"; }
ok=1
check() {   # kind pattern want
    got=$(count "$2")
    printf '  %-8s %3d refused (want %d)\n' "$1" "$got" "$3"
    [ "$got" -eq "$3" ] || ok=0
}
echo "node 0 refused, by kind:"
check garbage "not a dsm hello" 30
check silent "timed out: no hello in time" 10
check secret "authentication of node 1 failed: cluster secret differs" 15
check version "protocol version differs" 15
check cluster "number of nodes differs|size of region 0 differs" 15
check dup "node 2 is already connected" 15
total=$(grep -c "refused connection from" "$OUT/phase1.log")
echo "  total    $total (want 100)"
[ "$ok" -eq 1 ] && [ "$total" -eq 100 ] || fail "rejections by kind differ"

# node 1 joins during a flood: 40 silent and 4 garbage connections at once
bad --kind silent --parallel 40 --duration-ms 6000 >"$OUT/flood1.out" 2>&1 &
f1=$!
bad --kind garbage --parallel 4 --duration-ms 6000 >"$OUT/flood2.out" 2>&1 &
f2=$!
sleep 1
t1=$(date +%s.%N)
node 1 3 120000
wait_for "$OUT/node0.log" "node 1 connected from" 1 60 || fail "node 1 never got in"
joined=$(awk "BEGIN{print $(date +%s.%N) - $t1}")
wait "$f1" || { cat "$OUT/flood1.out"; fail "flood: a silent connection was kept"; }
wait "$f2" || { cat "$OUT/flood2.out"; fail "flood: a garbage connection was kept"; }
cat "$OUT/flood1.out" "$OUT/flood2.out"
for i in 0 1 2; do
    eval "p=\$pid$i"
    wait "$p" || fail "node $i exit status $?"
done
grep -q "node 1 connected from" "$OUT/node0.log" || fail "node 0 never admitted node 1"
pushed=$(grep -c "pushed out" "$OUT/node0.log")
retries=$(grep -c "connecting to node 0 again" "$OUT/node1.log")
unlogged=$(sed -n 's/.*refused \([0-9]*\) more connection(s) in one second.*/\1/p' "$OUT/node0.log" |
           awk '{ n += $1 } END { print n + 0 }')
echo "flood: node 0 logged $pushed push-outs (and $unlogged refusals beyond its 200 lines a" \
    "second); node 1 got in after ${joined}s ($retries retries); mixed test passed"
[ "$pushed" -gt 0 ] || fail "the flood never filled node 0's handshake slots"
grep "node 0:" "$OUT/node0.log" | tail -n 2
echo PASS
