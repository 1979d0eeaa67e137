/* stats.h - the statistics every benchmark reports: median, spread, ratios, percentiles. */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

struct summary {
    size_t n;
    double median, min, max;
};

/* Median (mean of the two middle values for an even count), min and max of v[0..n).
 * v is left sorted. n == 0 gives an all-zero summary. */
struct summary stats_summarize(double *v, size_t n);

/* Percentile q (0..100) of sorted v[0..n), by linear interpolation between ranks. */
double stats_percentile_sorted(const double *v, size_t n, double q);

/* Percentile q of a log2 histogram: bucket i counts values in [2^i, 2^(i+1)); the value is
 * interpolated linearly inside its bucket. Returns 0 for an empty histogram. */
double stats_hist_percentile(const uint64_t *buckets, size_t nbuckets, double q);

/* a / b, or NAN when b is 0 (a ratio against nothing is not a number). */
double stats_ratio(double a, double b);

/* Per-pair ratios a[i] / b[i] of interleaved runs, over the first min(na, nb) pairs;
 * returns their summary (min and max are the spread of the ratio). */
struct summary stats_pair_ratios(const double *a, size_t na, const double *b, size_t nb);

#endif
