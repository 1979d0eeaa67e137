#!/usr/bin/env bash
# Guest reset: on 2 nodes a guest `reboot` boots the guest again on both nodes (userspace twice,
# node1's CPU online in both boots, the write-update tick page registered again, DSM faults on
# both nodes after the reboot), then the guest powers off and both nodes exit 0; QMP
# system_reset on node 1 (the node without the devices) resets the guest on both nodes the same
# way; on 3 nodes, QMP system_reset on node 2 resets node 1, then node 0, and the guest boots
# again with 3 CPUs.
# time-limit: 960: three runs of two boots each, the launcher stops each at 300 s
. tests/lib.sh
mkdir -p build/test-runs

# faults SOCKET: a node's DSM faults so far (read + write).
faults() {
    qmp "$1" qom-get '{"path": "/objects/dsmvm", "property": "stats"}' |
        jq -r '.read_faults + .write_faults'
}
# wait_console TEXT: until the console shows TEXT (up to 240 s).
wait_console() {
    for _ in $(seq 480); do
        grep -qs "$1" "$RUN/serial0.log" && return 0
        kill -0 "$launcher" 2>/dev/null || fail "the launcher ended before the console showed '$1'"
        sleep 0.5
    done
    fail "the console never showed '$1'"
}

run() {   # run NAME NODES WORKLOAD-ARGS...: starts the launcher in the background
    RUN=$PWD/build/test-runs/$1; nodes=$2; shift 2   # absolute: the node command lines name it
    rm -rf "$RUN"
    "$LAUNCH" --quiet --run-dir "$RUN" --nodes "$nodes" --variant tuned --workload reboot "$@" \
        --timeout 300 > "$RUN.out" 2>&1 &
    launcher=$!
}
# The launcher stops its nodes when it is terminated.
trap 'kill $launcher 2>/dev/null || true' EXIT

check_two_boots() {   # check_two_boots WHAT: both boots and a clean power-off
    local what=$1 rc=0
    wait "$launcher" || rc=$?
    cat "$RUN.out"
    [ "$rc" -eq 0 ] || fail "$what: the launcher exited $rc ($(summary .reason))"
    [ "$(summary .status)" = ok ] || fail "$what: summary status $(summary .status)"
    [ "$(summary .reason)" = "guest powered off" ] || fail "$what: $(summary .reason)"
    [ "$(console | grep -c 'DSMVM: userspace up')" -eq 2 ] ||
        fail "$what: userspace came up $(console | grep -c 'DSMVM: userspace up') times, not 2"
    [ "$(console | grep -c "$nodes cpus online")" -eq 2 ] ||
        fail "$what: a boot did not see $nodes CPUs"
    console | grep -q 'DSMVM: reboot workload: boot 2, powering off' ||
        fail "$what: no second boot of the workload"
    console | grep -q 'DSMVM: workload reboot exit=0' || fail "$what: the workload failed"
    # The new kernel registers its write-update areas again after the reset.
    [ "$(console | grep -c 'tick page .* is published by write-update')" -eq 2 ] ||
        fail "$what: the tick page was not published by write-update in both boots"
    [ "$(console | grep -c 'vDSO data .* is published by write-update')" -eq 2 ] ||
        fail "$what: the vDSO data was not published by write-update in both boots"
    grep -q "node0 reset the guest; resetting here too\|node1 reset the guest; resetting here too" \
        "$RUN/node0.log" "$RUN/node1.log" || fail "$what: no node reset for a peer"
}

# 1. The guest reboots itself (through a reset port on node 0).
run reboot 2
wait_console 'DSMVM: reboot workload: boot 1, rebooting'
before0=$(faults "$RUN/qmp0.sock")
before1=$(faults "$RUN/qmp1.sock")
check_two_boots "guest reboot"
grep -q 'node0 reset the guest; resetting here too' "$RUN/node1.log" ||
    fail "guest reboot: node1 did not reset for node0"
after0=$(summary '.nodes[0].read_faults + .nodes[0].write_faults')
after1=$(summary '.nodes[1].read_faults + .nodes[1].write_faults')
echo "guest reboot: DSM faults node0 $before0 -> $after0, node1 $before1 -> $after1;" \
     "total $(summary .total_time_s) s"
[ "$((after0 - before0))" -gt 100 ] || fail "guest reboot: node0 took no faults after the reboot"
[ "$((after1 - before1))" -gt 100 ] || fail "guest reboot: node1 took no faults after the reboot"

# 2. QMP system_reset on node 1.
run qmp-reset 2 --args wait
wait_console 'DSMVM: reboot workload: boot 1, waiting for a reset'
qmp "$RUN/qmp1.sock" system_reset > /dev/null
check_two_boots "QMP system_reset on node1"
grep -q 'node1 reset the guest; resetting here too' "$RUN/node0.log" ||
    fail "QMP system_reset on node1: node0 did not reset for node1"
echo "QMP system_reset on node1: total $(summary .total_time_s) s"

# 3. QMP system_reset on node 2 of 3: the device node resets last.
run qmp-reset-3 3 --args wait
wait_console 'DSMVM: reboot workload: boot 1, waiting for a reset'
qmp "$RUN/qmp2.sock" system_reset > /dev/null
check_two_boots "QMP system_reset on node2 of 3"
for i in 0 1; do
    grep -q 'node2 reset the guest; resetting here too' "$RUN/node$i.log" ||
        fail "QMP system_reset on node2 of 3: node$i did not reset for node2"
done
echo "QMP system_reset on node2 of 3: total $(summary .total_time_s) s"
echo "dist-reboot: ok"
