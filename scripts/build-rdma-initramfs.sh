#!/usr/bin/env bash
# Build the userspace of the soft-RoCE test VM (issue 12, tests/integration/rdma-vm.sh):
# busybox-static, host/dsm's release programs, rdma-core's verbs and rdma_cm libraries with
# the rxe provider, iproute2's ip and rdma, coreutils' date, rdma-core's ibv_devices/ibv_rc_pingpong/rping,
# every shared library they need and the dynamic loader, and guest-tools/rdma-vm/ (init and
# the in-VM test list). Result: build/rdma-vm/initramfs.cpio.gz (a few seconds to build,
# so it is not cached).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

require_busybox
MULTIARCH=/usr/lib/x86_64-linux-gnu
PROVIDER=$MULTIARCH/libibverbs/librxe-rdmav34.so
RXE_DRIVER=/etc/libibverbs.d/rxe.driver
# program -> the Debian package that ships it, for the error message
declare -A FROM=(
    [/usr/bin/rdma]=iproute2 [/usr/sbin/ip]=iproute2
    [/usr/bin/ibv_devices]=ibverbs-utils [/usr/bin/ibv_devinfo]=ibverbs-utils
    [/usr/bin/ibv_rc_pingpong]=ibverbs-utils [/usr/bin/rping]=rdmacm-utils
    # busybox's date has no %N, which host/dsm/tests/bad-connections.sh times itself with
    [/usr/bin/date]=coreutils
)
for bin in "${!FROM[@]}"; do
    [ -x "$bin" ] || die "$bin is missing: install the Debian package ${FROM[$bin]}"
done
[ -r "$PROVIDER" ] && [ -r "$RXE_DRIVER" ] \
    || die "the rxe verbs provider ($PROVIDER, $RXE_DRIVER) is missing: install ibverbs-providers"
for lib in libibverbs.so.1 librdmacm.so.1; do
    [ -r "$MULTIARCH/$lib" ] || die "$MULTIARCH/$lib is missing: install ${lib%%.so*}1"
done

DSM_BIN=$ROOT/host/dsm/build/release
timed "building host/dsm (release)" make -s -C "$ROOT/host/dsm" all
DSM_TOOLS=(dsm-testdrv dsm-test-node dsm-bench dsm-badconn dsm-shm-rogue)
for t in "${DSM_TOOLS[@]}"; do
    [ -x "$DSM_BIN/$t" ] || die "host/dsm did not build $DSM_BIN/$t"
done

OUT=$BUILD/rdma-vm
STAGE=$OUT/initramfs-root
rm -rf "$STAGE"
# Debian's merged /usr: ldd names /lib/x86_64-linux-gnu and /lib64, libibverbs looks for its
# providers under /usr/lib/x86_64-linux-gnu; both must reach the same files.
mkdir -p "$STAGE"/usr/{bin,sbin,lib,lib64} "$STAGE"/{proc,sys,dev,tmp,etc/libibverbs.d,opt/dsm}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$STAGE/$d"; done
cp "$BUSYBOX" "$STAGE/usr/bin/busybox"
ln -s busybox "$STAGE/usr/bin/sh"

# copy_with_libs FILE DEST: FILE to DEST in the image, and every library ldd names for it
# (with the loader) at its own path.
copy_with_libs() {
    mkdir -p "$STAGE$(dirname "$2")"
    cp -L "$1" "$STAGE$2"
    local lib
    ldd "$1" | grep -o '/[^ ]*' | while read -r lib; do
        if [ ! -e "$STAGE$lib" ]; then
            mkdir -p "$STAGE$(dirname "$lib")"
            cp -L "$lib" "$STAGE$lib"
        fi
    done
}
for bin in "${!FROM[@]}"; do
    copy_with_libs "$bin" "$bin"
done
# The DSM's programs: dsm-testdrv runs dsm-test-node from its own directory, and
# bad-connections.sh takes that directory.
for t in "${DSM_TOOLS[@]}"; do
    copy_with_libs "$DSM_BIN/$t" "/opt/dsm/$t"
done
cp "$ROOT/host/dsm/tests/bad-connections.sh" "$STAGE/opt/dsm/"
# Verbs and rdma_cm: the rxe provider is dlopen()ed by libibverbs (so ldd of the programs
# does not name it), found through its .driver file.
for lib in libibverbs.so.1 librdmacm.so.1; do
    copy_with_libs "$MULTIARCH/$lib" "$MULTIARCH/$lib"
done
copy_with_libs "$PROVIDER" "$PROVIDER"
# glibc dlopen()s libgcc_s for pthread_exit() and cancellation (rping's threads end that way)
LIBGCC=$MULTIARCH/libgcc_s.so.1
[ -r "$LIBGCC" ] || die "$LIBGCC is missing: install libgcc-s1"
copy_with_libs "$LIBGCC" "$LIBGCC"
cp "$RXE_DRIVER" "$STAGE$RXE_DRIVER"

install -m 755 "$ROOT/guest-tools/rdma-vm/init" "$STAGE/init"
install -m 755 "$ROOT/guest-tools/rdma-vm/run-tests" "$STAGE/usr/bin/rdma-vm-tests"

mkdir -p "$OUT"
(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 > "$OUT/initramfs.cpio.gz.tmp"
mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
step "rdma test VM initramfs: $(du -h "$OUT/initramfs.cpio.gz" | cut -f1) (uncompressed $(du -sh "$STAGE" | cut -f1)) in build/rdma-vm/"
