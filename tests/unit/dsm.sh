#!/usr/bin/env bash
# host/dsm: unit, multi-process (2-8 nodes, TCP and shm), node-failure, resident-memory,
# sanitizer and bounded fuzzing tests (host/dsm/Makefile).
# time-limit: 1500: the host/dsm suite (3 sanitizer builds, multi-process tests on 2-8 nodes, two 20 s fuzzers); about 3 min alone, several times that on a loaded 2-core machine
set -euo pipefail
make -s -C host/dsm test
