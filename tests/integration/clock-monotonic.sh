#!/usr/bin/env bash
# CLOCK_MONOTONIC (and MONOTONIC_RAW, BOOTTIME) never go back when a token passes between CPUs
# on different nodes: the tuned guest on 2 nodes (timekeeping published by write-update) and
# the stock guest, each running clock-chain (one thread per CPU, readings passed round a ring).
. tests/lib.sh
for variant in tuned stock; do
    launch clock-$variant --nodes 2 --variant $variant --workload clock-chain --args 1000 --timeout 400 \
        || fail "$variant: launcher failed"
    line=$(console | grep '^clock-chain: ' || true)
    echo "$variant: ${line:-no result}"
    [[ "$line" == "clock-chain: PASS "*" on 2 CPUs, "* ]] || fail "$variant: ${line:-clock-chain did not report}"
done
