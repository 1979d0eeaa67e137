#!/usr/bin/env bash
# Boot a guest on one QEMU process with the serial console on the terminal (and in a log).
#   run-guest.sh [--variant stock|tuned] [--workload NAME] [--args A,B] [--smp N] [--mem MB]
#                [--timeout S] [--log FILE] [-- extra QEMU args]
# Exits 0 only when the guest reached userspace, its workload exited 0 and it powered off.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=tuned workload=hello args= smp=2 mem=512 timeout=600 log=
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) variant=$2; shift 2 ;;
        --workload) workload=$2; shift 2 ;;
        --args) args=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --log) log=$2; shift 2 ;;
        --) shift; break ;;
        *) die "unknown option '$1' (see the header of $0)" ;;
    esac
done
case "$variant" in stock|tuned) ;; *) die "--variant must be stock or tuned" ;; esac
QEMU=$BUILD/qemu/qemu-system-x86_64
KERNEL=$BUILD/guest/$variant/bzImage
INITRD=$BUILD/initramfs.cpio.gz
for f in "$QEMU" "$KERNEL" "$INITRD"; do
    [ -e "$f" ] || die "$f is missing: run 'make' first"
done
accel=$(bash "$ROOT/scripts/accel.sh")
log=${log:-$BUILD/run/guest-$variant-$workload.log}
mkdir -p "$(dirname "$log")"

# The command line comes from the module that writes every node's (host/launcher).
cmdfile=$(mktemp)
trap 'rm -f "$cmdfile"' EXIT
python3 "$ROOT/host/launcher/dsmvm_cluster.py" command --null --nographic --qemu "$QEMU" \
    --accel "$accel" --smp "$smp" --mem "$mem" --kernel "$KERNEL" --initrd "$INITRD" \
    --workload "$workload" --args "$args" > "$cmdfile" || die "bad options for the guest"
mapfile -d '' qemu_cmd < "$cmdfile"
step "booting the $variant guest (workload $workload, $smp vCPUs, ${mem} MB, $accel); log: $log"
# An interactive terminal reaches the guest console; otherwise QEMU reads nothing.
stdin=/dev/null; [ -t 0 ] && stdin=/dev/stdin
t0=$(date +%s.%N)
set +e
timeout --foreground -k 5 "$timeout" "${qemu_cmd[@]}" "$@" < "$stdin" | tee "$log"
status=${PIPESTATUS[0]}
set -e
elapsed=$(echo "$(date +%s.%N) - $t0" | bc)
[ "$status" -eq 124 ] && die "the guest did not finish within $timeout s (log: $log)"
[ "$status" -eq 0 ] || die "QEMU exited with status $status (log: $log)"
grep -q '^DSMVM: userspace up' "$log" || die "the guest never reached userspace (log: $log)"
grep -q "^DSMVM: workload $workload exit=0" "$log" || die "workload $workload failed (log: $log)"
step "guest powered off after $(printf '%.1f' "$elapsed") s"
