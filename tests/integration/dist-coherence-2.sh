#!/usr/bin/env bash
# Guest coherence checks (atomic counter, mutex-protected counter, message passing) with a
# thread on every CPU, 2 nodes x 1 vCPU: exact totals, no violation.
# time-limit: 660: one 2-node run, the launcher stops it at 600 s
. tests/lib.sh
launch coherence-2 --nodes 2 --variant tuned --workload coherence --args 2000 --timeout 600 \
    || fail "launcher failed"
console | grep '^coherence:'
console | grep -q '^coherence: PASS cpus=2 ' || fail "coherence check did not pass on 2 CPUs"
echo "2 nodes: total $(summary .total_time_s) s, DSM faults $(summary .dsm_faults_total)"
