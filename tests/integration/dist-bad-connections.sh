#!/usr/bin/env bash
# time-limit: 700: one 2-node boot (launcher --timeout 600) plus 100 bad connections first
# Node 0's QEMU (2-node guest, tuned unless VARIANT=stock) waits for node 1 while it
# gets 100 connections that must be refused: 30 of random bytes, 10 silent, 20 with another
# cluster secret, 15 of another protocol version, 15 of another node count or RAM size, 10
# claiming node 0's own id with the right secret, some concurrent. (A node id that is already
# connected cannot happen with 2 nodes, as node 0 stops listening once node 1 is in; host/dsm's
# suite tests it with 3.) Node 0's log must name each one, by kind, with its address. Then
# node 1 starts while 30 silent connections keep coming: the guest must boot to userspace and
# power off.
#
# Time limits: the bad connections take ~10 s (the silent ones are cut at node 0's 5 s
# handshake deadline), each bounded by dsm-badconn's own 30 s wait; the boot is bounded by
# the launcher's --timeout 600 (a 2-node TCG boot takes 30-120 s on a loaded 2-core VM).
. tests/lib.sh
BADCONN=host/dsm/build/release/dsm-badconn
make -s -C host/dsm all >/dev/null || fail "cannot build host/dsm"
[ -x build/qemu/qemu-system-x86_64 ] || skip "build/qemu/qemu-system-x86_64 is missing: run make"
VARIANT=${VARIANT:-tuned}
[ -f build/guest/$VARIANT/bzImage ] || skip "build/guest/$VARIANT/bzImage is missing: run make"

RUN=build/test-runs/bad-connections
conf=build/test-runs/bad-connections.conf
rm -rf "$RUN"
mkdir -p "$RUN"
mapfile -t ports < <("$BADCONN" --free-ports 2)
secret=bad-connections-test-$$
cat > "$conf" <<EOF
[cluster]
transport = tcp
secret = $secret
device-node = 0
connect-timeout = 300

[node0]
address = 127.0.0.1:${ports[0]}
cpus = 0

[node1]
address = 127.0.0.1:${ports[1]}
cpus = 1
EOF
A0=127.0.0.1:${ports[0]}
log0=$RUN/node0.log

"$LAUNCH" --quiet --run-dir "$RUN" --cluster "$conf" --variant "$VARIANT" --workload hello \
    --hold-node 1 --timeout 600 > "$RUN/launcher.out" 2>&1 &
launcher=$!
trap 'kill $launcher 2>/dev/null; wait $launcher 2>/dev/null' EXIT

# wait_for PATTERN COUNT SECONDS: until node 0's log has COUNT matching lines
wait_for() {
    local i=0 n
    while n=$(grep -c -E "$1" "$log0" 2>/dev/null); [ "${n:-0}" -lt "$2" ]; do
        i=$((i + 1))
        [ $i -le $(($3 * 10)) ] || return 1
        kill -0 $launcher 2>/dev/null || return 1
        sleep 0.1
    done
}
wait_for "waiting up to 300 s for the peers" 1 120 ||
    { cat "$RUN/launcher.out" "$log0"; fail "node 0 did not start"; }

bad() { "$BADCONN" --addr "$A0" --secret "$secret" "$@"; }
# the silent ones hold 10 of node 0's 16 handshake slots; the others run 5 at a time
bad --kind silent --count 10 --parallel 10 > "$RUN/silent.out" 2>&1 &
silent=$!
sleep 0.5
bad --kind garbage --count 30 --parallel 5 || fail "garbage connections"
bad --kind secret --count 20 --parallel 5 --claim 1 || fail "wrong-secret connections"
bad --kind version --count 15 --parallel 5 --claim 1 || fail "wrong-version connections"
bad --kind cluster --count 15 --parallel 5 --claim 1 || fail "wrong-cluster connections"
bad --kind self --count 10 --parallel 5 || fail "connections claiming node 0"
wait $silent || { cat "$RUN/silent.out"; fail "silent connections"; }
wait_for "refused connection from" 100 60 ||
    { tail "$log0"; fail "node 0 logged fewer than 100 refusals"; }
cp "$log0" "$RUN/node0-before-node1.log"

ok=1
check() {   # kind pattern want
    local got
    got=$(grep -c -E "dsmvm node0: refused connection from 127\.0\.0\.1:[0-9]+: .*($2)" \
          "$RUN/node0-before-node1.log" || true)
    printf '  %-8s %3d refused (want %d)\n' "$1" "$got" "$3"
    [ "$got" -eq "$3" ] || ok=0
}
echo "node 0 refused, by kind:"
check garbage "not a dsm hello" 30
check silent "timed out: no hello in time" 10
check secret "authentication of node 1 failed: cluster secret differs" 20
check version "protocol version differs" 15
check cluster "number of nodes differs|size of region 0 differs" 15
check self "peer claims node id 0" 10
total=$(grep -c "refused connection from" "$RUN/node0-before-node1.log")
echo "  total    $total (want 100)"
[ $ok -eq 1 ] && [ "$total" -eq 100 ] || fail "refusals by kind differ"
grep -q "stopping this node" "$log0" && fail "node 0 stopped"

# node 1 joins during a flood of silent connections
bad --kind silent --parallel 30 --duration-ms 20000 > "$RUN/flood.out" 2>&1 &
flood=$!
sleep 1
kill -USR1 $launcher
rc=0
wait $launcher || rc=$?
trap - EXIT
wait $flood || { cat "$RUN/flood.out"; fail "a flood connection was kept open"; }
cat "$RUN/flood.out"
cat "$RUN/launcher.out"
[ $rc -eq 0 ] || { tail -n 5 "$RUN"/node*.log; fail "launcher exit status $rc"; }
console | grep -q "DSMVM: userspace up" || fail "the guest did not reach userspace"
echo "after node 1 joined: userspace after $(summary .time_to_userspace_s) s, total" \
     "$(summary .total_time_s) s; node 0 refused $(grep -c 'refused connection from' "$log0")" \
     "connections in all ($(grep -c 'pushed out' "$log0") pushed out by the flood)"
