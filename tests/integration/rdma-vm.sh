#!/usr/bin/env bash
# Issue 12's test VM: the DSM over real verbs. One plain QEMU (TCG, 4 vCPUs, no dsmvm
# cluster) boots the rdma guest kernel (soft-RoCE rdma_rxe, rdma_cm, uverbs) with the
# initramfs of scripts/build-rdma-initramfs.sh, whose init binds rxe0 to the guest's dummy0
# (10.0.2.15; dsmvm's QEMU has no NIC model, and every node runs in this one guest, so no
# packet has to leave it) and runs guest-tools/rdma-vm/run-tests: verbs alone (ibv_devices, ibv_rc_pingpong),
# rdma_cm alone (rping), then host/dsm's tests over the DSM transport(s): coherence, exact
# atomic totals and messages (mixed) on 2 and 3 nodes, a killed node reported by the
# survivors, bad connections refused and logged, and dsm-bench over rdma and tcp.
# Fails when a test fails, when an expected test or the summary line is missing, or when the
# VM does not power off in time.
#   RDMAVM_TRANSPORT=rdma,tcp  DSM transports of the tests (default rdma)
#   RDMAVM_BENCH=rdma,tcp      dsm-bench transports (default rdma,tcp)
#   RDMAVM_ONLY=word,...       only the tests whose names contain a word (no completeness check)
#   RDMAVM_TIMEOUT=S           QEMU's hard limit (default 480 s)
# The kernel is built by `make` (guest-rdma: 18 CPU-minutes cold, see
# guest-kernel-patches/README.md) and cached; here it is a cache lookup. The run itself takes
# about 2 minutes (120-200 s in the VM on a loaded 2-core machine).
# time-limit: 600: one TCG boot and test run, QEMU is stopped at 480 s
set -euo pipefail
. scripts/lib.sh

transport=${RDMAVM_TRANSPORT:-rdma}
bench=${RDMAVM_BENCH:-rdma,tcp}
only=${RDMAVM_ONLY:-}
limit=${RDMAVM_TIMEOUT:-480}
QEMU=$BUILD/qemu/qemu-system-x86_64
[ -x "$QEMU" ] || { echo "FAIL: $QEMU is missing: run 'make qemu'"; exit 1; }

bash scripts/build-guest.sh rdma
bash scripts/build-rdma-initramfs.sh
KERNEL=$BUILD/guest/rdma/bzImage
INITRD=$BUILD/rdma-vm/initramfs.cpio.gz

log=$BUILD/test-logs/rdma-vm.serial
mkdir -p "$(dirname "$log")"
append="console=ttyS0 panic=-1 quiet rdmavm.transport=$transport rdmavm.bench=$bench"
[ -z "$only" ] || append+=" rdmavm.only=$only"
step "booting the rdma test VM (TCG, 4 vCPUs, 2 GB; DSM over $transport, bench $bench); log: $log"
t0=$SECONDS
set +e
timeout -k 5 "$limit" "$QEMU" -machine pc -accel tcg -cpu max -smp 4 -m 2048 \
    -L /usr/share/seabios -L /usr/share/qemu -kernel "$KERNEL" -initrd "$INITRD" -append "$append" \
    -nic none -vga none -display none -serial stdio -monitor none -no-reboot \
    < /dev/null 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "VM ran for $((SECONDS - t0)) s"
[ "$status" -ne 124 ] || { echo "FAIL: the VM did not power off within $limit s"; exit 1; }
[ "$status" -eq 0 ] || { echo "FAIL: QEMU exited with status $status"; exit 1; }

# the result lines, without the serial console's carriage returns
results=$(tr -d '\r' < "$log" | grep -E '^RDMA-(TEST|BENCH) ' || true)
summary=$(grep -E '^RDMA-TEST SUMMARY passed=[0-9]+ failed=[0-9]+$' <<<"$results" || true)
[ -n "$summary" ] || { echo "FAIL: the VM printed no RDMA-TEST SUMMARY line"; exit 1; }
passes=$(grep -c '^RDMA-TEST PASS ' <<<"$results" || true)
fails=$(grep -c '^RDMA-TEST FAIL ' <<<"$results" || true)
echo
echo "$results"
[ "$summary" = "RDMA-TEST SUMMARY passed=$passes failed=$fails" ] \
    || { echo "FAIL: the summary ($summary) does not match the $passes PASS and $fails FAIL lines"; exit 1; }
if [ -z "$only" ]; then
    expected=(verbs-devices verbs-rc-pingpong rdmacm-rping)
    for x in ${transport//,/ }; do
        expected+=("dsm-mixed-2n-$x" "dsm-mixed-3n-$x" "dsm-failure-3n-$x" "dsm-badconn-$x")
    done
    for x in ${bench//,/ }; do
        expected+=("dsm-bench-$x")
    done
    for name in "${expected[@]}"; do
        grep -qE "^RDMA-TEST (PASS|FAIL) $name " <<<"$results" || { echo "FAIL: test $name did not run"; exit 1; }
    done
fi
[ "$fails" -eq 0 ] || { echo "FAIL: $fails of $((passes + fails)) tests failed in the VM"; grep '^RDMA-TEST FAIL' <<<"$results"; exit 1; }
[ "$passes" -gt 0 ] || { echo "FAIL: no test ran"; exit 1; }
echo "PASS: $passes tests passed in the rdma test VM"
