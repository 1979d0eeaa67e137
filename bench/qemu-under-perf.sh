#!/bin/sh
# QEMU for `make bench`, given to the launcher as --qemu: the node runs under perf, which
# counts (BENCH_PERF=stat) or records the fault_end probe (BENCH_PERF=record) for this
# process and all its threads, into BENCH_PERF_DIR.
case "${BENCH_PERF:-}" in
    stat)
        exec perf stat -x, -e context-switches,raw_syscalls:sys_enter,syscalls:sys_enter_sendmsg \
            -o "$BENCH_PERF_DIR/perf-stat-$$.txt" -- "$BENCH_QEMU" "$@" ;;
    record)
        exec perf record -q -e "$BENCH_PERF_EVENT" -o "$BENCH_PERF_DIR/perf-$$.data" \
            -- "$BENCH_QEMU" "$@" ;;
    *)
        exec "$BENCH_QEMU" "$@" ;;
esac
