#!/usr/bin/env bash
# time-limit: 300: builds the fuzzer, then FUZZ_TIME seconds of fuzzing (default 20)
# libFuzzer on the QEMU-level message decoder (host/qemu/files/hw/dsmvm/wire.c), built
# outside QEMU with host/qemu/fuzz/shim, seeded with a valid message of every type (the seed
# program also checks that each is accepted and wrong sizes, ports and fingerprints are not).
# Time limit: FUZZ_TIME seconds of fuzzing (default 20), the whole test at most 120 s more.
set -euo pipefail
fail() { echo "FAIL: $*"; exit 1; }
CLANG=${CLANG:-clang-14}
command -v "$CLANG" >/dev/null || { echo "$CLANG is missing: run 'make deps'"; exit 77; }
FUZZ_TIME=${FUZZ_TIME:-20}
SRC=host/qemu/fuzz
WIRE=host/qemu/files/hw/dsmvm
OUT=build/fuzz-wire
rm -rf "$OUT"
mkdir -p "$OUT/corpus"
flags=(-std=gnu11 -Wall -Wextra -Werror -g -O1 -I"$SRC/shim" -I"$WIRE")
"$CLANG" "${flags[@]}" -fsanitize=fuzzer,address,undefined -o "$OUT/fuzz-wire" \
    "$SRC/fuzz-wire.c" "$WIRE/wire.c"
"$CLANG" "${flags[@]}" -fsanitize=address,undefined -DFUZZ_WIRE_SEEDS -o "$OUT/fuzz-wire-seeds" \
    "$SRC/fuzz-wire.c" "$WIRE/wire.c"
"$OUT/fuzz-wire-seeds" "$OUT/corpus" || fail "the decoder refused a valid message or accepted a bad one"
timeout $((FUZZ_TIME + 120)) "$OUT/fuzz-wire" -max_total_time="$FUZZ_TIME" -print_final_stats=1 \
    "$OUT/corpus" > "$OUT/fuzz.log" 2>&1 || { tail -n 30 "$OUT/fuzz.log"; fail "fuzz-wire found a problem"; }
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/fuzz.log")
[ "${runs:-0}" -gt 0 ] || fail "the fuzzer ran no inputs"
echo "fuzz-wire: $runs inputs in ${FUZZ_TIME}s, no failure"
