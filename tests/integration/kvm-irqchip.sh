#!/usr/bin/env bash
# KVM path: a distributed node under KVM is refused with a clear message unless the
# interrupt controller is in userspace (kernel-irqchip=off). Needs a usable /dev/kvm to get
# that far; without one the check cannot run here and the test skips, saying so.
# time-limit: 120: QEMU starts that must fail at once
. tests/lib.sh
Q=build/qemu/qemu-system-x86_64
"$Q" -accel help | grep -qx kvm || fail "KVM is not compiled in"
[ -w /dev/kvm ] || skip "no usable /dev/kvm on this machine (KVM support is compiled: see -accel help)"
dir=build/test-runs/kvm; rm -rf "$dir"; mkdir -p "$dir"
printf '[cluster]\nsecret = kvm-test-secret\nconnect-timeout = 2\n[node0]\naddress = 127.0.0.1:7390\ncpus = 0\n[node1]\naddress = 127.0.0.1:7391\ncpus = 1\n' > "$dir/cluster.conf"
# qemu64: a CPU model every KVM host can run (a software-only KVM may reject -cpu max's MSRs).
node0() {
    set +e
    timeout 60 "$Q" -machine "$1" -cpu qemu64 -smp 2 -m 128 -display none -vga none -nic none \
        -monitor none -serial none -L /usr/share/seabios -L /usr/share/qemu \
        -object dsmvm-node,id=d,node=0,cluster="$dir/cluster.conf" > "$dir/out" 2>&1
    rc=$?
    set -e
    cat "$dir/out"
    if grep -q 'failed to initialize kvm\|Could not access KVM' "$dir/out"; then
        skip "KVM does not initialise on this machine"
    fi
}
node0 pc,accel=kvm
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "QEMU accepted the in-kernel irqchip (status $rc)"
grep -q 'kernel-irqchip=off' "$dir/out" || fail "the refusal does not say how to fix it"
# With the userspace irqchip the node gets past that check and waits for its peer (none here).
node0 pc,accel=kvm,kernel-irqchip=off
if grep -q 'KVM does not support userspace APIC' "$dir/out"; then
    echo "NOTE: this host's KVM has no userspace-APIC support, so the accepted path"
    echo "      (kernel-irqchip=off reaching the peers) cannot be exercised here;"
    echo "      the refusal above was checked."
    exit 0
fi
grep -q 'waiting up to 2 s for the peers' "$dir/out" || fail "kernel-irqchip=off was not accepted"
grep -q 'kernel-irqchip=off to -machine' "$dir/out" && fail "kernel-irqchip=off still refused"
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "a node without its peer did not fail cleanly (status $rc)"
