#!/usr/bin/env bash
# time-limit: 180: runs the dependency check a few times (60 s each at most)
# scripts/deps.sh --quiet, which make all/run/test call first: silent and without apt when
# nothing is missing; as a normal user with something missing, a clear error naming it.
# Time limit: each step 60 s (the check is one dpkg-query; 60 s only guards against a hang).
set -uo pipefail
fail() { echo "FAIL: $*"; exit 1; }

stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
# apt-get and apt-cache must not run when nothing is missing: stubs that leave a mark
for t in apt-get apt-cache; do
    printf '#!/bin/sh\necho called >> %s/%s.called\nexit 1\n' "$stub" "$t" > "$stub/$t"
    chmod +x "$stub/$t"
done
chmod 755 "$stub"

t0=$(date +%s.%N)
out=$(PATH=$stub:$PATH timeout 60 bash scripts/deps.sh --quiet 2>&1)
rc=$?
took=$(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}")
if [ $rc -ne 0 ]; then
    echo "$out"
    echo "this machine lacks Debian packages the project needs: run 'make deps' first"
    exit 77
fi
[ -z "$out" ] || fail "deps.sh --quiet printed something although nothing is missing: $out"
[ ! -e "$stub/apt-get.called" ] && [ ! -e "$stub/apt-cache.called" ] || fail "apt ran although nothing is missing"
echo "nothing missing: silent, no apt, ${took}s"

# A normal user, one package missing: refused with its name and what to do.
out=$(HOME=/tmp DSMVM_DEPS_EXTRA=dsmvm-no-such-package PATH=$stub:$PATH \
      timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups bash scripts/deps.sh --quiet 2>&1)
rc=$?
echo "$out"
[ $rc -ne 0 ] || fail "a missing package was not reported"
grep -q "missing packages: dsmvm-no-such-package" <<<"$out" || fail "the missing package is not named"
grep -q "sudo make deps" <<<"$out" || fail "no hint how to install it"
[ ! -e "$stub/apt-get.called" ] || fail "apt-get ran without root"

# make all, run and test check first
for target in all run test; do
    # Under make test the parent make's variables would make this one print directories.
    first=$(env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make --no-print-directory -n "$target" 2>/dev/null | head -n 1)
    [ "$first" = "bash scripts/deps.sh --quiet" ] || fail "make $target does not check deps first: $first"
done
echo "make all/run/test check deps first"
