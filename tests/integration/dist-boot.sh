#!/usr/bin/env bash
# Stock and tuned guests boot on 2 nodes x 1 vCPU; the guest sees 2 CPUs, a program pinned
# to each CPU runs there, poweroff ends both nodes with status 0, and node 1's counters
# prove its vCPU executed (its own DSM faults and forwarded I/O).
# time-limit: 660: two 2-node boots, the launcher stops each at 300 s
. tests/lib.sh
for v in stock tuned; do
    launch boot-$v --nodes 2 --variant $v --workload pinned --timeout 300 || fail "$v: launcher failed"
    console | grep -q '2 cpus online' || fail "$v: the guest does not see 2 CPUs"
    console | grep -q 'pinned: cpu 1 ran, last on cpu 1' || fail "$v: nothing ran on CPU 1"
    [ "$(summary .status)" = ok ] || fail "$v: summary status $(summary .status)"
    for i in 0 1; do
        [ "$(summary ".nodes[$i].exit_reason")" != "" ] || fail "$v: node$i has no exit reason"
    done
    faults=$(summary '.nodes[1].read_faults + .nodes[1].write_faults')
    io=$(summary '.nodes[1].io_forwarded')
    [ "$faults" -gt 0 ] || fail "$v: node1 took no DSM faults"
    [ "$io" -gt 0 ] || fail "$v: node1 forwarded no I/O"
    echo "$v: userspace after $(summary .time_to_userspace_s) s, total $(summary .total_time_s) s," \
         "DSM faults $(summary .dsm_faults_total) (node1: $faults), node1 forwarded I/O $io"
done
