#!/usr/bin/env bash
# The same guest on 2 nodes over the shared-memory transport, and over TCP with each node in
# its own network namespace (veth pairs and a bridge); no namespace is left behind.
# time-limit: 660: two 2-node runs, the launcher stops each at 300 s
. tests/lib.sh
launch shm --nodes 2 --variant stock --workload pinned --transport shm --timeout 300 \
    || fail "shm transport: launcher failed"
echo "shm: userspace after $(summary .time_to_userspace_s) s, DSM faults $(summary .dsm_faults_total)"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root (the shm case above passed)"
before=$(ip netns list | wc -l)
launch netns --nodes 2 --variant stock --workload pinned --netns --timeout 300 \
    || fail "netns: launcher failed"
grep -q 'address = 10.213.0.2:' "$RUN/cluster.conf" || fail "nodes were not given namespace addresses"
echo "netns: userspace after $(summary .time_to_userspace_s) s, DSM faults $(summary .dsm_faults_total)"
[ "$(ip netns list | wc -l)" -eq "$before" ] || fail "network namespaces left behind"
