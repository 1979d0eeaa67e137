/* stats.c - counters, latency histogram, formatting. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dsm_internal.h"

uint64_t dsm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void dsm_stats_record_latency(struct dsm *d, uint64_t ns)
{
    int b = 63 - __builtin_clzll(ns | 1);
    if (b >= DSM_LAT_BUCKETS) {
        b = DSM_LAT_BUCKETS - 1;
    }
    __atomic_fetch_add(&d->stats.fault_latency_ns[b], 1, __ATOMIC_RELAXED);
}

void dsm_get_stats(struct dsm *d, struct dsm_stats *out)
{
    const uint64_t *src = (const uint64_t *)&d->stats;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++) {
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
}

static int hotter(const struct dsm_page_count *a, const struct dsm_page_count *b)
{
    if (a->faults != b->faults) {
        return a->faults > b->faults;
    }
    return a->invalidations > b->invalidations;
}

size_t dsm_hot_pages(struct dsm *d, struct dsm_page_count *out, size_t n)
{
    size_t filled = 0;

    for (uint64_t p = 0; p < d->total_pages && n > 0; p++) {
        struct dsm_page_count c = {
            .addr = dsm_page_addr(d, p),
            .faults = __atomic_load_n(&d->pages[p].faults, __ATOMIC_RELAXED),
            .invalidations = __atomic_load_n(&d->pages[p].invalidations, __ATOMIC_RELAXED),
        };
        if (c.faults == 0 && c.invalidations == 0) {
            continue;
        }
        /* Insertion into the sorted top n: n is small (a report, not a scan). */
        size_t i = filled < n ? filled++ : n;
        if (i == n && !hotter(&c, &out[n - 1])) {
            continue;
        }
        if (i == n) {
            i = n - 1;
        }
        while (i > 0 && hotter(&c, &out[i - 1])) {
            out[i] = out[i - 1];
            i--;
        }
        out[i] = c;
    }
    return filled;
}

int dsm_page_counts(struct dsm *d, void *addr, struct dsm_page_count *out)
{
    for (uint64_t p = 0; p < d->total_pages; p++) {
        uint8_t *pa = dsm_page_addr(d, p);
        if ((uint8_t *)addr >= pa && (uint8_t *)addr < pa + DSM_PAGE_SIZE) {
            out->addr = pa;
            out->faults = __atomic_load_n(&d->pages[p].faults, __ATOMIC_RELAXED);
            out->invalidations = __atomic_load_n(&d->pages[p].invalidations, __ATOMIC_RELAXED);
            return 0;
        }
    }
    return -EINVAL;
}

size_t dsm_format_stats(const struct dsm_stats *s, char *buf, size_t len)
{
    size_t used = 0;
#define EMIT(...) do { \
        int n_ = snprintf(buf + used, used < len ? len - used : 0, __VA_ARGS__); \
        if (n_ > 0) used += (size_t)n_; \
    } while (0)
#define F(name) EMIT("%-24s %llu\n", #name, (unsigned long long)s->name)
    if (len) {
        buf[0] = 0;
    }
    F(read_faults); F(write_faults); F(faults_remote); F(faults_local);
    F(pages_sent); F(pages_received); F(invalidations_sent); F(invalidations_received);
    F(zero_page_installs); F(msgs_sent); F(msgs_received); F(bytes_sent);
    F(bytes_received); F(wu_updates); F(wu_pages_replaced); F(wu_fallbacks);
    F(read_ahead_sent); F(read_ahead_received);
    F(exclusive_reads); F(exclusive_upgrades); F(migratory_cleared);
    F(app_sent); F(app_received);
    for (int i = 0; i < DSM_LAT_BUCKETS; i++) {
        if (s->fault_latency_ns[i]) {
            EMIT("latency [%llu ns, %llu ns) %llu\n", 1ull << i, 2ull << i,
                 (unsigned long long)s->fault_latency_ns[i]);
        }
    }
#undef F
#undef EMIT
    return used < len ? used : (len ? len - 1 : 0);
}

uint64_t dsm_failed_nodes(struct dsm *d)
{
    return atomic_load(&d->failed_mask);
}
