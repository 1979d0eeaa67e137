#!/usr/bin/env bash
# A guest NUMA topology that matches the nodes (launcher --numa on, the default): the tuned
# guest sees one NUMA node per dsmvm node with that node's vCPU, and each node is the home of
# its NUMA node's memory, where every page starts owned (the zero page, installed before the
# guest runs): no fault on any node ever needs a zero page, where interleaved homes (--numa
# off) take thousands. The remote-fault counts of both boots are printed, not compared: one
# boot's count swings by 2x from run to run on these machines (make bench compares medians).
# time-limit: 660: two 2-node boots, the launcher stops each at 300 s
. tests/lib.sh
launch numa-on --nodes 2 --variant tuned --workload numa --numa on --timeout 300 \
    || fail "launcher failed (numa on)"
console | grep '^numa:'
console | grep -q '^numa: node 0 cpus 0 ' || fail "guest NUMA node 0 is not CPU 0"
console | grep -q '^numa: node 1 cpus 1 ' || fail "guest NUMA node 1 is not CPU 1"
# The initrd sits in memory homed on the boot node (256 MiB of the 512 MiB), not at the top.
ramdisk_end() {   # the last byte of the initrd, from the console's "RAMDISK: [mem A-B]"
    local r
    r=$(console | sed -n 's/.*RAMDISK: \[mem 0x[0-9a-f]*-0x\([0-9a-f]*\)\].*/\1/p' | head -n 1)
    [ -n "$r" ] || fail "no RAMDISK line on the console"
    echo $((16#$r))
}
end=$(ramdisk_end)
printf 'initrd ends at 0x%x (numa on)\n' "$end"
[ "$end" -lt $((256 << 20)) ] || fail "numa on: the initrd is not in NUMA node 0 (256 MiB)"
on=$(summary .dsm_faults_remote_total)
zero_on=$(summary '[.nodes[].zero_page_installs] | add')
launch numa-off --nodes 2 --variant tuned --workload numa --numa off --timeout 300 \
    || fail "launcher failed (numa off)"
console | grep -q '^numa: none$\|^numa: node 0 cpus 0-1 ' || fail "numa off still shows 2 nodes"
# Without a NUMA topology the loader keeps its place at the top of memory.
end=$(ramdisk_end)
printf 'initrd ends at 0x%x (numa off)\n' "$end"
[ "$end" -ge $((256 << 20)) ] || fail "numa off: the initrd moved from the top of memory"
off=$(summary .dsm_faults_remote_total)
zero_off=$(summary '[.nodes[].zero_page_installs] | add')
echo "remote DSM faults: numa on $on, numa off $off; zero-page installs: numa on $zero_on, numa off $zero_off"
[ "$on" -gt 0 ] || fail "no remote fault at all with numa on: node 1 never ran?"
[ "$zero_on" -eq 0 ] || fail "numa on: $zero_on faults needed a zero page (homes not prepopulated?)"
[ "$zero_off" -gt 0 ] || fail "numa off: no zero-page install at all (the check above proves nothing)"
