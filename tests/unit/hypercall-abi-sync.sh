#!/usr/bin/env bash
# The hypercall ABI constants are the same in hypercalls/ and in the guest kernel patch.
set -euo pipefail
bash hypercalls/check-abi-sync.sh
