#!/usr/bin/env bash
# The guest kernel series applies to linux-source-6.12 with no fuzz and checkpatch finds no error.
set -euo pipefail
bash guest-kernel-patches/check-series.sh
