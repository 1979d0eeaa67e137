#!/usr/bin/env bash
# The guest memory soak checker passes on the host, catches a lost write (one page not
# rewritten in round 2: stale words and a wrong buffer sum), and refuses bad arguments.
# time-limit: 120: builds and runs the guest checker on the host for a few seconds
set -euo pipefail
make -s -C guest-tools OUT=../build/guest-tools
bin=build/guest-tools/mem-soak
$bin 8 2 | tee /dev/stderr | grep -q '^mem-soak: PASS .*bad_words=0 sum_mismatches=0'
out=$(MEM_SOAK_SKIP_PAGE=5 $bin 1 1 2>&1) && { echo "a lost write passed: $out"; exit 1; }
echo "$out" | grep -q '^mem-soak: FAIL .*bad_words=[1-9][0-9]* sum_mismatches=1 ' \
    || { echo "lost write not reported as expected: $out"; exit 1; }
echo "$out" | grep -q 'round 2 page 5 word 0:' || { echo "bad word not named: $out"; exit 1; }
for bad in "0" "x" "8 -1" "1 1 1"; do
    # shellcheck disable=SC2086
    if $bin $bad > /dev/null 2>&1; then echo "bad arguments '$bad' accepted"; exit 1; fi
done
echo "mem-soak: checks pass, a lost write is caught, bad arguments refused"
