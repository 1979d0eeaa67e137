#!/usr/bin/env bash
# Print the accelerator to use: "kvm" when /dev/kvm is usable and backed by hardware
# virtualization (vmx/svm), "tcg" otherwise. A software-only /dev/kvm (e.g. a nested,
# paging-based KVM without vmx/svm in /proc/cpuinfo) cannot boot Linux in useful time.
# DSMVM_ACCEL=kvm|tcg overrides the choice. The reason goes to stderr.
set -euo pipefail
if [ -n "${DSMVM_ACCEL:-}" ]; then
    case "$DSMVM_ACCEL" in
        kvm|tcg) echo "accelerator: $DSMVM_ACCEL (from DSMVM_ACCEL)" >&2; echo "$DSMVM_ACCEL"; exit 0 ;;
        *) echo "error: DSMVM_ACCEL must be kvm or tcg, not '$DSMVM_ACCEL'" >&2; exit 1 ;;
    esac
fi
if [ ! -w /dev/kvm ]; then
    echo "accelerator: tcg (no usable /dev/kvm)" >&2; echo tcg
elif ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
    echo "accelerator: tcg (/dev/kvm exists but the CPU has no vmx/svm: KVM would be software-emulated)" >&2; echo tcg
else
    echo "accelerator: kvm (hardware virtualization)" >&2; echo kvm
fi
