#!/usr/bin/env bash
# Guest coherence checks (atomic counter, mutex-protected counter, message passing) with a
# thread on every CPU, 4 nodes x 1 vCPU: exact totals, no violation.
# time-limit: 660: one 4-node run, the launcher stops it at 600 s
. tests/lib.sh
launch coherence-4 --nodes 4 --variant tuned --workload coherence --args 1000 --timeout 600 \
    || fail "launcher failed"
console | grep '^coherence:'
console | grep -q '^coherence: PASS cpus=4 ' || fail "coherence check did not pass on 4 CPUs"
echo "4 nodes: total $(summary .total_time_s) s, DSM faults $(summary .dsm_faults_total)"
