#!/usr/bin/env bash
# host/dsm: unit, multi-process (2-8 nodes, TCP and shm), node-failure, resident-memory,
# sanitizer and bounded fuzzing tests (host/dsm/Makefile).
set -euo pipefail
make -s -C host/dsm test
