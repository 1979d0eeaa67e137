#!/usr/bin/env bash
# A process on node 1's CPU reads a virtio disk hosted on node 0; the checksum matches the host's.
# time-limit: 360: one 2-node run, the launcher stops it at 300 s
. tests/lib.sh
img=build/test-data/disk.img
mkdir -p build/test-data
[ -f "$img" ] || head -c $((4 * 1024 * 1024)) /dev/urandom > "$img"
want=$(sha256sum "$img" | cut -d' ' -f1)
launch disk --nodes 2 --variant tuned --workload diskread --args 1 --disk "$img" --timeout 300 \
    || fail "launcher failed"
got=$(console | sed -n 's/^diskread: .* cpu=1 sha256=\([0-9a-f]*\).*/\1/p')
echo "host $want"
echo "guest $got"
[ -n "$got" ] || fail "the guest printed no checksum"
[ "$got" = "$want" ] || fail "checksums differ"
echo "node1 forwarded $(summary '.nodes[1].io_forwarded') I/O accesses"
