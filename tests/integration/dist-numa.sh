#!/usr/bin/env bash
# A guest NUMA topology that matches the nodes (launcher --numa on, the default): the tuned
# guest sees one NUMA node per dsmvm node with that node's vCPU, and because each node is the
# home of its NUMA node's memory, the boot takes fewer remote DSM faults than the same boot
# with interleaved homes (--numa off), measured back to back in this run.
# time-limit: 660: two 2-node boots, the launcher stops each at 300 s
. tests/lib.sh
launch numa-on --nodes 2 --variant tuned --workload numa --numa on --timeout 300 \
    || fail "launcher failed (numa on)"
console | grep '^numa:'
console | grep -q '^numa: node 0 cpus 0 ' || fail "guest NUMA node 0 is not CPU 0"
console | grep -q '^numa: node 1 cpus 1 ' || fail "guest NUMA node 1 is not CPU 1"
on=$(summary .dsm_faults_remote_total)
launch numa-off --nodes 2 --variant tuned --workload numa --numa off --timeout 300 \
    || fail "launcher failed (numa off)"
console | grep -q '^numa: none$\|^numa: node 0 cpus 0-1 ' || fail "numa off still shows 2 nodes"
off=$(summary .dsm_faults_remote_total)
echo "remote DSM faults: numa on $on, numa off $off"
[ "$on" -gt 0 ] || fail "no remote fault at all with numa on: node 1 never ran?"
[ "$on" -lt "$off" ] || fail "homed NUMA memory did not reduce remote faults ($on >= $off)"
