#!/usr/bin/env bash
# Nodes started with a different -m, or a different machine type, are refused at connect
# time with a message naming the difference; both exit non-zero and neither hangs.
# time-limit: 120: two nodes that must refuse each other at connect time
. tests/lib.sh
Q=build/qemu/qemu-system-x86_64
dir=build/test-runs/mismatch; rm -rf "$dir"; mkdir -p "$dir"
printf '[cluster]\nsecret = mismatch-test-secret\nconnect-timeout = 10\n[node0]\naddress = 127.0.0.1:7380\ncpus = 0\n[node1]\naddress = 127.0.0.1:7381\ncpus = 1\n' > "$dir/cluster.conf"
node() {
    timeout 60 "$Q" -machine "$3",accel=tcg -cpu max -smp 2 -m "$2" -display none -vga none -nic none \
        -monitor none -serial none -L /usr/share/seabios -L /usr/share/qemu -object dsmvm-node,id=d,node="$1",cluster="$dir/cluster.conf" \
        > "$dir/node$1.log" 2>&1
}
pair() {
    set +e
    node 1 "$1" "$2" & p1=$!
    node 0 512 pc & p0=$!
    wait $p0; rc0=$?
    wait $p1; rc1=$?
    set -e
    cat "$dir"/node*.log
    [ $rc0 -ne 0 ] && [ $rc0 -ne 124 ] || fail "node0 exit status $rc0"
    [ $rc1 -ne 0 ] && [ $rc1 -ne 124 ] || fail "node1 exit status $rc1"
}
pair 256 pc
grep -q 'size of region 0 differs: peer 268435456, local 536870912' "$dir"/node*.log \
    || fail "no message naming the RAM difference"
pair 512 pc-i440fx-9.2
grep -q 'inconsistent configuration: node. has machine=pc-i440fx-' "$dir"/node*.log \
    || fail "no message naming the machine type difference"
