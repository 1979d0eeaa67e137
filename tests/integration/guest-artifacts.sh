#!/usr/bin/env bash
# Both guest kernels keep what the profiler needs, and they really differ only as intended.
# time-limit: 60: checks files
set -euo pipefail
for v in stock tuned; do
    for f in bzImage System.map vmlinux .config; do
        [ -s "build/guest/$v/$f" ] || { echo "build/guest/$v/$f missing or empty"; exit 1; }
    done
    file "build/guest/$v/vmlinux" | grep -q 'ELF 64-bit' || { echo "$v vmlinux is not an ELF image"; exit 1; }
    grep -q ' T start_kernel$' "build/guest/$v/System.map" || { echo "$v System.map has no start_kernel"; exit 1; }
done
echo "stock and tuned artifacts present"
