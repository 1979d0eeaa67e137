#!/usr/bin/env bash
# The stock kernel boots under our QEMU (TCG here) on 2 vCPUs, runs a program pinned to
# each CPU and powers off.
# time-limit: 360: one TCG boot; run-guest.sh stops it at 300 s
set -euo pipefail
log=build/test-logs/boot-stock.serial
bash scripts/run-guest.sh --variant stock --workload pinned --smp 2 --timeout 300 --log "$log"
grep -q '2 cpus online' "$log" || { echo "the guest did not bring both CPUs online"; exit 1; }
