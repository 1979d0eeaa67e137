#!/usr/bin/env bash
# The guest coherence checker itself passes on the host, and its failure path works:
# an iteration count of 0 is refused.
# time-limit: 120: builds and runs the guest checker on the host, seconds
set -euo pipefail
make -s -C guest-tools OUT=../build/guest-tools
build/guest-tools/coherence-test 20000 | tee /dev/stderr | grep -q '^coherence: PASS'
! build/guest-tools/coherence-test 0 2>/dev/null
