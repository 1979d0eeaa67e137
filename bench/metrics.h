/* metrics.h - the named numbers one benchmark run produced, and their file form. */
#ifndef BENCH_METRICS_H
#define BENCH_METRICS_H

#include <stdio.h>

#define METRIC_NAME_MAX 48
#define METRICS_MAX 64

/* Outcome of a run: only "ok" runs contribute numbers to a benchmark. */
#define RUN_OK "ok"
#define RUN_TIMEOUT "timeout"
#define RUN_FAILED "failed"

struct metrics {
    char status[16];
    char reason[160];
    int count;
    char name[METRICS_MAX][METRIC_NAME_MAX];
    double value[METRICS_MAX];
};

void metrics_init(struct metrics *m);
/* Sets (or replaces) a value; names longer than METRIC_NAME_MAX-1 are cut. */
void metrics_set(struct metrics *m, const char *name, double value);
/* Adds to a value (0 when absent). */
void metrics_add(struct metrics *m, const char *name, double value);
/* 1 and *out set when present. */
int metrics_get(const struct metrics *m, const char *name, double *out);

/* File form, one per line: "status ok", "reason ...", then "NAME VALUE". */
void metrics_write(const struct metrics *m, FILE *f);
/* Returns 0, or -1 when the file cannot be opened. */
int metrics_read(const char *path, struct metrics *m);

#endif
