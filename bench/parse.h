/* parse.h - turn what a run left behind into metrics.
 *
 * Each parser reads one kind of text and adds the metrics it recognises; text it does
 * not recognise adds nothing. The run-directory parser calls all of them. */
#ifndef BENCH_PARSE_H
#define BENCH_PARSE_H

#include "json.h"
#include "metrics.h"

/* The launcher's summary.json: status, times, DSM counters summed over nodes, and the
 * fault-latency percentiles when the nodes report a log2 histogram (fault_latency_ns). */
void parse_summary(const struct json *summary, struct metrics *m);
/* Guest console (serial0.log): the guest's uptime when userspace came up. */
void parse_console(const char *text, struct metrics *m);
/* sysbench's report (any test). */
void parse_sysbench(const char *text, struct metrics *m);
void parse_sysbench_procs(const char *text, struct metrics *m);
/* stress-ng --metrics-brief: bogo ops and bogo ops/s (real time) summed over stressors. */
void parse_stressng(const char *text, struct metrics *m);
/* `perf stat -x,` output: context switches, syscalls and sendmsg calls (added up). */
void parse_perf_stat(const char *text, struct metrics *m);
/* `perf script` lines of the sdt_dsm:fault_end probe (arg4 = latency in ns): percentiles. */
void parse_fault_latency(const char *text, struct metrics *m);
/* dsm-bench --json: the fault-latency floor and dsm-bench's own fault latencies (tcp). */
void parse_dsm_bench(const struct json *j, struct metrics *m);
/* Snapshots taken by `dsmvm-bench qmp-watch`: faults per second between the markers. */
void parse_idle_snapshots(const char *text, struct metrics *m);
void parse_workload_snapshots(const char *text, struct metrics *m);
void parse_derive_per_event(struct metrics *m);
/* Ratios computed from other metrics of the same run (per remote fault, ...). */
void parse_derive(struct metrics *m);

/* Everything above over the files of a run directory. Returns -1 when the directory
 * holds nothing a parser knows (no summary.json and no dsm-bench.json). */
int parse_run_dir(const char *dir, struct metrics *m);

/* Whole file as a NUL-terminated string (NULL when unreadable). */
char *read_text_file(const char *path);

#endif
