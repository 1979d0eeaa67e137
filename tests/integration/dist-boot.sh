#!/usr/bin/env bash
# Stock and tuned guests boot on 2 nodes x 1 vCPU; the guest sees 2 CPUs, a program pinned
# to each CPU runs there, poweroff ends both nodes with status 0, and node 1's counters
# prove its vCPU executed (its own DSM faults and forwarded I/O). The tuned kernel boots
# without a kernel warning (patch 0018: no "llc-sibling" WARNING for CPU 1) and CPU 1 takes
# CPU 0's delay calibration (patch 0017). The launcher ignores what an earlier run left in a
# reused run directory.
# time-limit: 660: two 2-node boots, the launcher stops each at 300 s
. tests/lib.sh
for v in stock tuned; do
    RUN=build/test-runs/boot-$v
    rm -rf "$RUN"
    mkdir -p "$RUN"
    # an earlier run's console and node statistics, which must not be taken for this run's
    echo "DSMVM: userspace up, uptime 1.00 s, 2 cpus online" > "$RUN/serial0.log"
    echo '{"node": 1, "exit_reason": "left by an earlier run"}' > "$RUN/stats1.json"
    "$LAUNCH" --quiet --run-dir "$RUN" --nodes 2 --variant $v --workload pinned --timeout 300 ||
        fail "$v: launcher failed"
    jq -e '.time_to_userspace_s > 0.5 and .nodes[1].exit_reason != "left by an earlier run"' \
        "$RUN/summary.json" > /dev/null ||
        fail "$v: the summary took a stale console or stats file for this run's: $(cat "$RUN/summary.json")"
    console | grep -q '2 cpus online' || fail "$v: the guest does not see 2 CPUs"
    console | grep -q 'pinned: cpu 1 ran, last on cpu 1' || fail "$v: nothing ran on CPU 1"
    [ "$(summary .status)" = ok ] || fail "$v: summary status $(summary .status)"
    for i in 0 1; do
        [ "$(summary ".nodes[$i].exit_reason")" != "" ] || fail "$v: node$i has no exit reason"
    done
    if [ $v = tuned ]; then
        ! console | grep -E 'WARNING:|Tainted: |llc-sibling' ||
            fail "tuned: the kernel warned during the boot"
        ! console | grep 'calibrate_delay_direct' ||
            fail "tuned: CPU 1 timed its own delay loop instead of taking CPU 0's"
    fi
    faults=$(summary '.nodes[1].read_faults + .nodes[1].write_faults')
    io=$(summary '.nodes[1].io_forwarded')
    [ "$faults" -gt 0 ] || fail "$v: node1 took no DSM faults"
    [ "$io" -gt 0 ] || fail "$v: node1 forwarded no I/O"
    echo "$v: userspace after $(summary .time_to_userspace_s) s, total $(summary .total_time_s) s," \
         "DSM faults $(summary .dsm_faults_total) (node1: $faults), node1 forwarded I/O $io"
done
