#!/usr/bin/env bash
# Guest coherence checks (atomic counter, mutex-protected counter, message passing) with a
# thread on every CPU, 3 nodes x 1 vCPU: exact totals, no violation.
# time-limit: 660: one 3-node run, the launcher stops it at 600 s
. tests/lib.sh
launch coherence-3 --nodes 3 --variant tuned --workload coherence --args 1333 --timeout 600 \
    || fail "launcher failed"
console | grep '^coherence:'
console | grep -q '^coherence: PASS cpus=3 ' || fail "coherence check did not pass on 3 CPUs"
echo "3 nodes: total $(summary .total_time_s) s, DSM faults $(summary .dsm_faults_total)"
