#!/usr/bin/env bash
# Build the guest userspace: busybox-static, our static guest tools, and sysbench and
# stress-ng with the shared libraries they need, packed as build/initramfs.cpio.gz.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

require_busybox
for bin in /usr/bin/sysbench /usr/bin/stress-ng; do
    [ -x "$bin" ] || die "$bin is missing: run 'make deps'"
done

STAGE=$BUILD/initramfs-root
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,lib64,proc,sys,dev,tmp,mnt,etc}
cp -a "$ROOT/guest-tools/rootfs/." "$STAGE/"
cp "$BUSYBOX" "$STAGE/bin/busybox"
ln -s busybox "$STAGE/bin/sh"
make -s -C "$ROOT/guest-tools" OUT="$BUILD/guest-tools"
find "$BUILD/guest-tools" -maxdepth 1 -type f -perm -u+x -exec cp {} "$STAGE/usr/bin/" \;

# Dynamically linked workloads: copy each with every library ldd names, at the same path.
for bin in /usr/bin/sysbench /usr/bin/stress-ng; do
    cp "$bin" "$STAGE/usr/bin/"
    ldd "$bin" | grep -o '/[^ ]*' | while read -r lib; do
        mkdir -p "$STAGE$(dirname "$lib")"
        cp -L "$lib" "$STAGE$lib"
    done
done

mkdir -p "$BUILD"
(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 > "$BUILD/initramfs.cpio.gz.tmp"
mv "$BUILD/initramfs.cpio.gz.tmp" "$BUILD/initramfs.cpio.gz"
step "initramfs: $(du -h "$BUILD/initramfs.cpio.gz" | cut -f1) (uncompressed $(du -sh "$STAGE" | cut -f1))"
