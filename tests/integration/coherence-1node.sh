#!/usr/bin/env bash
# The guest coherence checks pass on one QEMU process with 2 vCPUs (the reference the
# distributed runs are compared with).
# time-limit: 360: one TCG boot; run-guest.sh stops it at 300 s
set -euo pipefail
log=build/test-logs/coherence-1node.serial
bash scripts/run-guest.sh --variant tuned --workload coherence --args 5000 --smp 2 --timeout 300 --log "$log"
grep -q '^coherence: PASS' "$log"
