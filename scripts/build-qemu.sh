#!/usr/bin/env bash
# Build dsmvm's QEMU: Debian's qemu/trixie source (upstream 10.0.x) with Debian's patches,
# our own files from host/qemu/files/ copied in, and our hook series host/qemu/patches/.
#
# Result: build/qemu/qemu-system-x86_64. The binary is cached in $CACHE/qemu/<hash>, the hash
# covering every input, so an unchanged tree is not rebuilt. The unpacked tree in
# build/qemu-src is a git repository (upstream state first, then one commit per hook
# patch) so that the series can be edited there and exported with git format-patch.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC_CACHE=$CACHE/src
TREE=$BUILD/qemu-src
OUT=$BUILD/qemu
PATCHES=$ROOT/host/qemu/patches
mkdir -p "$SRC_CACHE" "$OUT" "$CACHE/qemu"

command -v dpkg-source >/dev/null || die "dpkg-source missing: run 'make deps' first"
grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ && grep -rqs 'trixie' /etc/apt/sources.list.d/ \
    || die "no deb-src entry for trixie: run 'make deps' first"

# The newest QEMU source in trixie; refuse anything outside the upstream 10.0 series.
version=$(apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1)
[ -n "$version" ] || die "apt-cache knows no qemu source in trixie: run 'make deps' (apt-get update)"
upstream=${version#*:}; upstream=${upstream%%+*}; upstream=${upstream%%-*}
case "$upstream" in
    10.0.*) ;;
    *) die "trixie's QEMU source is $version, not from the upstream 10.0 series this project is built on" ;;
esac

hash=$(hash_inputs "$0" "$ROOT/scripts/lib.sh" "$ROOT/host/qemu" "$ROOT/host/dsm" \
    "$ROOT/hypercalls" <(echo "$version"))
cached=$CACHE/qemu/$hash
if [ -x "$cached/qemu-system-x86_64" ]; then
    if ! cmp -s "$cached/qemu-system-x86_64" "$OUT/qemu-system-x86_64"; then
        cp "$cached/qemu-system-x86_64" "$OUT/qemu-system-x86_64"
    fi
    step "QEMU $version is up to date (cache $hash)"
    exit 0
fi

dsc=$(ls "$SRC_CACHE"/qemu_"${version#*:}".dsc 2>/dev/null || true)
if [ -z "$dsc" ]; then
    timed "downloading QEMU source $version from the Debian archive" \
        bash -c "cd '$SRC_CACHE' && apt-get source --download-only -q qemu/trixie=$version >/dev/null 2>&1" \
        || die "apt-get source qemu/trixie=$version failed"
    dsc=$SRC_CACHE/qemu_${version#*:}.dsc
fi

# The tree is rebuilt from scratch when the upstream version or the hook series changed;
# otherwise only our own files are synced and ninja rebuilds what changed.
series_hash=$(hash_inputs "$PATCHES" <(echo "$version"))
if [ ! -f "$TREE/.dsmvm-series" ] || [ "$(cat "$TREE/.dsmvm-series")" != "$series_hash" ]; then
    rm -rf "$TREE"
    timed "unpacking QEMU $version (with Debian's patches)" \
        dpkg-source --no-check -x "$dsc" "$TREE" >/dev/null
    (
        cd "$TREE"
        git init -q
        git -c user.name=dsmvm -c user.email=build@dsmvm.invalid add -A >/dev/null
        git -c user.name=dsmvm -c user.email=build@dsmvm.invalid commit -qm "QEMU $version (Debian trixie, Debian patches applied)"
        git tag upstream
        while read -r p; do
            case "$p" in ''|'#'*) continue ;; esac
            step "applying hook patch $p"
            git -c user.name=dsmvm -c user.email=build@dsmvm.invalid am -q --keep-cr "$PATCHES/$p" \
                || die "hook patch $p does not apply to QEMU $version"
        done < "$PATCHES/series"
    )
    echo "$series_hash" > "$TREE/.dsmvm-series"
fi

# Our own files, copied over the tree; -c keeps unchanged files' times so ninja skips them.
rsync -rc "$ROOT/host/qemu/files/" "$TREE/"
[ -d "$ROOT/host/dsm" ] && rsync -rc --delete --exclude build/ "$ROOT/host/dsm/" "$TREE/dsmvm-dsm/"
[ -d "$ROOT/hypercalls" ] && rsync -rc --delete "$ROOT/hypercalls/" "$TREE/dsmvm-hypercalls/"

if [ ! -f "$TREE/build/build.ninja" ]; then
    timed "configuring QEMU (x86_64-softmmu, KVM + TCG, trimmed devices)" bash -c "
        cd '$TREE' && ./configure --python=/usr/bin/python3 --target-list=x86_64-softmmu \
            --without-default-features --without-default-devices --with-devices-x86_64=dsmvm \
            --enable-kvm --enable-tcg --enable-system --disable-user --disable-docs \
            --disable-install-blobs --disable-rust --disable-werror --enable-trace-backends=log \
            > '$BUILD/qemu-configure.log' 2>&1" \
        || die "QEMU configure failed; see $BUILD/qemu-configure.log"
fi
timed "building QEMU (log: build/qemu-build.log)" bash -c \
    "ninja -C '$TREE/build' qemu-system-x86_64 > '$BUILD/qemu-build.log' 2>&1" \
    || { tail -n 30 "$BUILD/qemu-build.log"; die "QEMU build failed; see $BUILD/qemu-build.log"; }

cp "$TREE/build/qemu-system-x86_64" "$OUT/qemu-system-x86_64"
mkdir -p "$cached.tmp" && cp "$OUT/qemu-system-x86_64" "$cached.tmp/" && rm -rf "$cached" && mv "$cached.tmp" "$cached"
# Keep the cache small: the five newest builds.
ls -1dt "$CACHE"/qemu/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
"$OUT/qemu-system-x86_64" --version | head -n 1
