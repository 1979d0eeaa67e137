/* stats.c - counters, latency histogram, formatting. */
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
