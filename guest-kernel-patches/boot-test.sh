#!/usr/bin/env bash
# Boot a guest kernel to a tiny busybox initramfs under TCG and check that it
# reaches userspace and that `poweroff -f` ends QEMU.
#
# Usage: boot-test.sh bzImage [smp] [-- extra QEMU args]
#   QEMU=path   QEMU binary (default: build/qemu/qemu-system-x86_64 if present,
#               else qemu-system-x86_64 from PATH)
#   MEM=MB      guest memory (default 256)   TIMEOUT=s (default 300)
#   LOG=file    console log (default build/gkp/boot-<kernel dir>-smp<N>.log)
#   APPEND=...  extra kernel command line (e.g. clocksource=hpet)
# Prints the dsmvm detection line, the clocksource and /proc/meminfo figures
# reported by the guest.  Exit status 0 only if the shell marker was reached and
# QEMU exited by itself (ACPI power off) within the timeout.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
KERNEL=${1:?usage: $0 bzImage [smp] [-- extra QEMU args]}
shift
SMP=2
if [ $# -gt 0 ] && [ "$1" != "--" ]; then SMP=$1; shift; fi
[ "${1:-}" = "--" ] && shift
MEM=${MEM:-256}
TIMEOUT=${TIMEOUT:-300}
if [ -z "${QEMU:-}" ]; then
    QEMU=$ROOT/build/qemu/qemu-system-x86_64
    [ -x "$QEMU" ] || QEMU=$(command -v qemu-system-x86_64)
fi
WORK=$ROOT/build/gkp
mkdir -p "$WORK"
LOG=${LOG:-$WORK/boot-$(basename "$(dirname "$(readlink -f "$KERNEL")")")-smp$SMP.log}

# The initramfs: busybox-static and a script that reports and powers off.
INITRD=$WORK/boot-test-initramfs.cpio.gz
STAGE=$WORK/boot-test-root
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,proc,sys,dev,tmp}
cp /bin/busybox "$STAGE/bin/busybox"
cat > "$STAGE/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "BOOT-TEST: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus"
echo "BOOT-TEST: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
dmesg | grep -i dsmvm | sed 's/^/BOOT-TEST: dmesg: /'
dmesg | grep -E 'Memory: |percpu: Embedded' | sed 's/^/BOOT-TEST: dmesg: /'
grep -E '^(MemTotal|MemFree|MemAvailable|Slab|Percpu|KernelStack):' /proc/meminfo | sed 's/^/BOOT-TEST: meminfo: /'
echo "BOOT-TEST: SHELL-READY"
poweroff -f
INIT
chmod +x "$STAGE/init"
(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 > "$INITRD"

echo "booting $KERNEL with $QEMU ($($QEMU --version | head -n 1)), -smp $SMP, $MEM MB"
t0=$(date +%s.%N)
set +e
timeout -k 5 "$TIMEOUT" "$QEMU" -machine pc,accel=tcg -cpu max -smp "$SMP" -m "$MEM" \
    -nographic -no-reboot -L /usr/share/seabios -L /usr/share/qemu \
    -kernel "$KERNEL" -initrd "$INITRD" -append "console=ttyS0 panic=-1${APPEND:+ $APPEND}" "$@" \
    < /dev/null > "$LOG" 2>&1
status=$?
set -e
t1=$(date +%s.%N)
tr -d '\r' < "$LOG" | grep 'BOOT-TEST:' || true
ok=1
grep -q 'BOOT-TEST: SHELL-READY' "$LOG" || { echo "FAIL: shell marker not reached (log: $LOG)"; ok=0; }
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "FAIL: QEMU still running after $TIMEOUT s: poweroff did not end it (log: $LOG)"; ok=0
elif [ "$status" -ne 0 ]; then
    echo "FAIL: QEMU exited with status $status (log: $LOG)"; ok=0
fi
grep -qE 'Kernel panic|BUG:|Oops|WARNING:' "$LOG" && { echo "NOTE: panic/BUG/WARNING in the log:"; grep -E 'Kernel panic|BUG:|Oops|WARNING:' "$LOG" | head; }
printf 'elapsed %.1f s, QEMU exit status %d\n' "$(echo "$t1 - $t0" | bc)" "$status"
[ "$ok" = 1 ] && echo "RESULT: OK (reached userspace, poweroff -f ended QEMU)" || echo "RESULT: FAILED"
[ "$ok" = 1 ]
