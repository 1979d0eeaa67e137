#!/usr/bin/env bash
# Build a guest kernel from Debian's linux-source-6.12.
#   build-guest.sh stock   base.config + stock.config, no patches
#   build-guest.sh tuned   guest-kernel-patches/series applied, base.config + tuned.config
#   build-guest.sh rdma    base.config + rdma.config, no patches (soft-RoCE test VM, issue 12)
# Result: build/guest/<variant>/{bzImage,System.map,vmlinux,.config}, cached in
# $CACHE/guest/<variant>-<hash>, the hash covering every input.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-}
case "$variant" in
    stock|tuned|rdma) ;;
    *) die "usage: $0 stock|tuned|rdma" ;;
esac
PATCHDIR=$ROOT/guest-kernel-patches
TARBALL=/usr/src/linux-source-6.12.tar.xz
[ -r "$TARBALL" ] || die "$TARBALL is missing: run 'make deps' (package linux-source-6.12)"
kversion=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) \
    || die "package linux-source-6.12 is not installed: run 'make deps'"

fragments=("$PATCHDIR/base.config" "$PATCHDIR/$variant.config")
for f in "${fragments[@]}"; do
    [ -r "$f" ] || die "kconfig fragment $f is missing"
done
patches=()
if [ "$variant" = tuned ] && [ -r "$PATCHDIR/series" ]; then
    while read -r p; do
        case "$p" in ''|'#'*) continue ;; esac
        [ -r "$PATCHDIR/$p" ] || die "patch $p named in guest-kernel-patches/series is missing"
        patches+=("$PATCHDIR/$p")
    done < "$PATCHDIR/series"
fi

# The tuned kernel gives each variable of hot-symbols.list a page of its own
# (CONFIG_DSMVM_HOT_SYMBOLS, guest patch 0009).
hot_list=() hot_inputs=()
if [ "$variant" = tuned ]; then
    hot_list=("$PATCHDIR/hot-symbols.list")
    hot_inputs=("${hot_list[@]}" "$PATCHDIR/check-cacheline.sh")
fi

OUT=$BUILD/guest/$variant
hash=$(hash_inputs "$0" "$ROOT/scripts/lib.sh" "${fragments[@]}" ${patches[@]+"${patches[@]}"} \
    ${hot_inputs[@]+"${hot_inputs[@]}"} <(echo "$variant $kversion"))
cached=$CACHE/guest/$variant-$hash
ARTIFACTS=(bzImage System.map vmlinux .config)

install_from_cache() {
    mkdir -p "$OUT"
    local a
    for a in "${ARTIFACTS[@]}"; do
        cmp -s "$cached/$a" "$OUT/$a" || cp "$cached/$a" "$OUT/$a"
    done
}
if [ -f "$cached/.complete" ]; then
    install_from_cache
    step "$variant guest kernel is up to date (linux-source-6.12 $kversion, cache $hash)"
    exit 0
fi

TREE=$BUILD/linux-$variant
rm -rf "$TREE"
mkdir -p "$TREE"
timed "unpacking linux-source-6.12 $kversion for the $variant kernel" \
    tar -xJf "$TARBALL" -C "$TREE" --strip-components=1
for p in ${patches[@]+"${patches[@]}"}; do
    step "applying $(basename "$p")"
    patch -d "$TREE" -p1 --fuzz=0 --quiet < "$p" || die "$(basename "$p") does not apply cleanly to linux-source-6.12 $kversion"
done

for l in ${hot_list[@]+"${hot_list[@]}"}; do
    [ -r "$l" ] || die "$l is missing (the tuned kernel's hot variables; may be empty)"
    cp "$l" "$TREE/arch/x86/kernel/dsmvm-hot-symbols.list"
done
(
    cd "$TREE"
    make -s tinyconfig >/dev/null
    scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null
    make -s olddefconfig >/dev/null
)
# A fragment line that did not survive olddefconfig (a missing dependency or a typo) is a
# configuration error, not something to find out at boot time.
bad=$(cat "${fragments[@]}" | sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)$/\1=\2/p' | while read -r line; do
    grep -qxF "$line" "$TREE/.config" || echo "  $line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$TREE/.config" || echo unset))"
done)
[ -z "$bad" ] || die "these options of the $variant fragments are not in the final .config:
$bad"

log=$BUILD/guest-$variant-build.log
timed "building the $variant kernel (log: build/guest-$variant-build.log)" \
    make -C "$TREE" -j"$(nproc)" bzImage > "$log" 2>&1 \
    || { tail -n 30 "$log"; die "the $variant kernel did not build; see $log"; }

# A listed variable that did not get a page of its own (a typo, or one the source places in
# a section of its own) is a list error, not something to find in a profile.
for l in ${hot_list[@]+"${hot_list[@]}"}; do
    syms=$(sed -e 's/#.*//' "$l" | awk 'NF { print $1 }' | tr '\n' ' ')
    [ -n "$syms" ] || continue
    HOT=$syms REQUIRED=$syms bash "$PATCHDIR/check-cacheline.sh" "$TREE/System.map" "$TREE/vmlinux" \
        > "$BUILD/guest-$variant-hot-symbols.log" 2>&1 || { grep -A1 '^FAIL' "$BUILD/guest-$variant-hot-symbols.log" >&2
        die "variables of $(basename "$l") are not alone on their page in the $variant kernel (above); remove them from the list"; }
    step "each of the $(wc -w <<< "$syms") variables of $(basename "$l") is on a page of its own"
done

mkdir -p "$cached.tmp"
cp "$TREE/arch/x86/boot/bzImage" "$TREE/System.map" "$TREE/vmlinux" "$TREE/.config" "$cached.tmp/"
touch "$cached.tmp/.complete"
rm -rf "$cached" && mv "$cached.tmp" "$cached"
install_from_cache
ls -1dt "$CACHE"/guest/"$variant"-*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
# The unpacked tree is large and everything needed was kept.
rm -rf "$TREE"
step "$variant kernel: $(du -h "$OUT/bzImage" | cut -f1) bzImage in build/guest/$variant/"
