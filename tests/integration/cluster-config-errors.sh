#!/usr/bin/env bash
# A bad cluster description is refused before anything starts, with a message saying what is wrong,
# by QEMU and by the launcher's parser (host/launcher/dsmvm_cluster.py) alike.
# time-limit: 300: several QEMU starts that must fail at once (30 s each at most)
. tests/lib.sh
Q=build/qemu/qemu-system-x86_64
dir=build/test-runs/cluster-errors; rm -rf "$dir"; mkdir -p "$dir"
check() {
    local want=$1 text=$2 out
    printf '%b' "$text" > "$dir/c.conf"
    set +e
    out=$(timeout 30 "$Q" -machine pc,accel=tcg -smp 2 -m 64 -display none -nic none -monitor none \
        -serial none -object dsmvm-node,id=d,node=0,cluster="$dir/c.conf" 2>&1)
    local rc=$?
    set -e
    echo "[$rc] $out"
    [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "accepted: $text"
    grep -q -- "$want" <<< "$out" || fail "expected '$want' for: $text"
    out=$(python3 host/launcher/dsmvm_cluster.py check "$dir/c.conf" 2>&1) \
        && fail "dsmvm_cluster.py accepted: $text"
    grep -q -- "$want" <<< "$out" || fail "dsmvm_cluster.py: expected '$want', got: $out"
}
good='[node0]\naddress = 127.0.0.1:7370\ncpus = 0\n[node1]\naddress = 127.0.0.1:7371\ncpus = 1\n'
check 'secret of at least 8' "[cluster]\n$good"
check 'claimed by node0 and node1' "[cluster]\nsecret = 12345678\n[node0]\naddress = 127.0.0.1:1\ncpus = 0-1\n[node1]\naddress = 127.0.0.1:2\ncpus = 1\n"
check 'needs address = HOST:PORT' "[cluster]\nsecret = 12345678\n[node0]\naddress = nowhere\ncpus = 0\n"
check 'vCPU 1 is not run by any node' "[cluster]\nsecret = 12345678\n[node0]\naddress = 127.0.0.1:1\ncpus = 0,2\n"
check 'no gap' "[cluster]\nsecret = 12345678\n[node0]\naddress = 127.0.0.1:1\ncpus = 0\n[node2]\naddress = 127.0.0.1:2\ncpus = 1\n"
check 'transport must be tcp, shm or rdma' "[cluster]\nsecret = 12345678\ntransport = udp\n$good"
check 'must run on the device node' "[cluster]\nsecret = 12345678\n[node0]\naddress = 127.0.0.1:1\ncpus = 1\n[node1]\naddress = 127.0.0.1:2\ncpus = 0\n"
check 'no \[cluster\] section' ""
check 'vcpu-nice must be a number from 0 to 19' "[cluster]\nsecret = 12345678\nvcpu-nice = 20\n$good"
check 'vcpu-nice must be' "[cluster]\nsecret = 12345678\nvcpu-nice = low\n$good"
check 'connect-timeout must be a positive number of seconds' "[cluster]\nsecret = 12345678\nconnect-timeout = 0\n$good"
check 'read-ahead must be a number of pages from 0 to 64' "[cluster]\nsecret = 12345678\nread-ahead = 65\n$good"
check 'exclusive-reads must be 0 (off) or 1 (on)' "[cluster]\nsecret = 12345678\nexclusive-reads = 2\n$good"
rm -f "$dir/c.conf"
out=$(timeout 30 "$Q" -machine pc,accel=tcg -smp 2 -m 64 -display none -nic none -monitor none -serial none \
      -object dsmvm-node,id=d,node=0,cluster="$dir/c.conf" 2>&1) && fail "a missing file was accepted"
grep -q 'No such file' <<< "$out" || fail "no message for a missing file: $out"
printf "[cluster]\nsecret = 12345678\n$good" > "$dir/c.conf"
out=$(timeout 30 "$Q" -machine pc,accel=tcg -smp 2 -m 64 -display none -nic none -monitor none -serial none \
      -object dsmvm-node,id=d,node=5,cluster="$dir/c.conf" 2>&1) && fail "node=5 accepted"
grep -q 'node=5 but' <<< "$out" || fail "no message for a node id out of range: $out"
echo "all bad descriptions refused"
