/* stats.c - median, spread, ratios and percentiles. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct summary stats_summarize(double *v, size_t n)
{
    struct summary s = { n, 0, 0, 0 };
    if (n == 0) {
        return s;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

double stats_percentile_sorted(const double *v, size_t n, double q)
{
    if (n == 0) {
        return 0;
    }
    double rank = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(rank);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (v[hi] - v[lo]) * (rank - (double)lo);
}

double stats_hist_percentile(const uint64_t *buckets, size_t nbuckets, double q)
{
    uint64_t total = 0;
    for (size_t i = 0; i < nbuckets; i++) {
        total += buckets[i];
    }
    if (total == 0) {
        return 0;
    }
    double want = q / 100.0 * (double)total, seen = 0;
    for (size_t i = 0; i < nbuckets; i++) {
        if (buckets[i] && seen + (double)buckets[i] >= want) {
            double lo = ldexp(1.0, (int)i);
            return lo + lo * (want - seen) / (double)buckets[i];
        }
        seen += (double)buckets[i];
    }
    return ldexp(1.0, (int)nbuckets);
}

double stats_ratio(double a, double b)
{
    return b == 0 ? NAN : a / b;
}

struct summary stats_pair_ratios(const double *a, size_t na, const double *b, size_t nb)
{
    size_t n = na < nb ? na : nb, k = 0;
    double *r = malloc((n ? n : 1) * sizeof(*r));
    struct summary s = { 0, 0, 0, 0 };
    if (!r) {
        return s;
    }
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            r[k++] = a[i] / b[i];
        }
    }
    s = stats_summarize(r, k);
    free(r);
    return s;
}
