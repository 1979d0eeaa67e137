#!/usr/bin/env bash
# The tuned kernel on one plain QEMU process (no dsmvm-node, so no CPUID leaves and no
# doorbell) detects no host, uses none of its features, and runs like the stock kernel.
# time-limit: 360: one TCG boot; run-guest.sh stops it at 300 s
set -euo pipefail
log=build/test-logs/tuned-without-host.serial
bash scripts/run-guest.sh --variant tuned --workload coherence --args 5000 --smp 2 --timeout 300 --log "$log"
grep 'dsmvm:' "$log"
grep -q 'dsmvm: host not detected, no dsmvm features in use' "$log" || { echo "FAIL: detection line missing or wrong"; exit 1; }
! grep -q 'write-update' "$log" || { echo "FAIL: write-update used without a host"; exit 1; }
grep -q '^coherence: PASS' "$log"
