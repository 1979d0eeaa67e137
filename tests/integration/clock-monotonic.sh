#!/usr/bin/env bash
# time-limit: 460: one 2-node run, the launcher stops it at 400 s
# CLOCK_MONOTONIC (and MONOTONIC_RAW, BOOTTIME) never go back when a token passes between CPUs
# on different nodes: the tuned guest on 2 nodes, whose timekeeping is published by
# write-update, runs clock-chain (one thread per CPU, readings passed round a ring).
. tests/lib.sh
launch clock-tuned --nodes 2 --variant tuned --workload clock-chain --args 1000 --timeout 400 \
    || fail "launcher failed"
console | grep 'dsmvm:' || true
line=$(console | grep '^clock-chain: ' || true)
echo "${line:-no result}"
[[ "$line" == "clock-chain: PASS "*" on 2 CPUs, "* ]] || fail "${line:-clock-chain did not report}"
