#!/usr/bin/env bash
# Our QEMU is 10.0 and has both accelerators compiled in: KVM (real hosts) and TCG (here).
# time-limit: 60: asks QEMU for its accelerators and version
set -euo pipefail
QEMU=build/qemu/qemu-system-x86_64
version=$("$QEMU" --version | head -n 1)
echo "$version"
[[ "$version" == *"version 10.0."* ]] || { echo "not QEMU 10.0: $version"; exit 1; }
accels=$("$QEMU" -accel help)
echo "$accels"
grep -qx kvm <<< "$accels" || { echo "kvm accelerator missing"; exit 1; }
grep -qx tcg <<< "$accels" || { echo "tcg accelerator missing"; exit 1; }
