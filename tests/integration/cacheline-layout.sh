#!/usr/bin/env bash
# With the 4 KB cache-line option, the hot objects named by the seed analysis (jiffies, the
# HPET clocksource lock, rcu_state) sit on pages of their own in the tuned kernel, and do not
# in the stock one.
# time-limit: 60: reads System.map files
set -euo pipefail
echo "== tuned"
bash guest-kernel-patches/check-cacheline.sh build/guest/tuned/System.map build/guest/tuned/vmlinux
echo "== stock (expected to share pages)"
if bash guest-kernel-patches/check-cacheline.sh build/guest/stock/System.map build/guest/stock/vmlinux; then
    echo "FAIL: the stock kernel already isolates the hot objects: the check proves nothing"
    exit 1
fi
