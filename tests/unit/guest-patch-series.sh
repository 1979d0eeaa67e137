#!/usr/bin/env bash
# The guest kernel series applies to linux-source-6.12 with no fuzz and checkpatch finds no error.
# time-limit: 600: unpacks linux-source-6.12 and applies the series (about 1 min alone)
set -euo pipefail
bash guest-kernel-patches/check-series.sh
