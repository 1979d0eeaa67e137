#!/usr/bin/env bash
# The hypercall ABI constants are the same in hypercalls/ and in the guest kernel patch.
# time-limit: 60: compares two headers
set -euo pipefail
bash hypercalls/check-abi-sync.sh
