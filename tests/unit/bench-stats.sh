#!/usr/bin/env bash
# make bench's statistics (median, spread, ratios, percentiles) and its parsers of sysbench,
# stress-ng, perf, dsm-bench and summary.json output, checked against recorded samples.
set -euo pipefail
make -s -C bench all
build/bench/bin/test-bench bench/samples
