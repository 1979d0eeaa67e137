/* parse-summary.c - the launcher's summary.json and the guest console. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "stats.h"

#define LAT_BUCKETS 64

/* Per-node counters the summary carries (missing ones are skipped), summed over nodes. */
static const struct {
    const char *field, *metric;
} node_counters[] = {
    { "faults_remote", "dsm_faults_remote" },
    { "faults_local", "dsm_faults_local" },
    { "pages_received", "dsm_pages_received" },
    { "invalidations_received", "dsm_invalidations" },
    { "msgs_sent", "dsm_msgs_sent" },
};

static void add_latency_histogram(const struct json *nodes, struct metrics *m)
{
    uint64_t hist[LAT_BUCKETS] = { 0 };
    int have = 0;

    for (const struct json *n = nodes ? nodes->child : NULL; n; n = n->next) {
        const struct json *h = json_get(n, "fault_latency_ns");
        size_t i = 0;
        for (const struct json *b = h && h->type == JSON_ARRAY ? h->child : NULL;
             b && i < LAT_BUCKETS; b = b->next, i++) {
            if (b->type == JSON_NUMBER && b->number > 0) {
                hist[i] += (uint64_t)b->number;
                have = 1;
            }
        }
    }
    if (!have) {
        return;
    }
    uint64_t total = 0;
    for (int i = 0; i < LAT_BUCKETS; i++) {
        total += hist[i];
    }
    metrics_set(m, "fault_lat_samples", (double)total);
    metrics_set(m, "fault_lat_p50_us", stats_hist_percentile(hist, LAT_BUCKETS, 50) / 1000);
    metrics_set(m, "fault_lat_p90_us", stats_hist_percentile(hist, LAT_BUCKETS, 90) / 1000);
    metrics_set(m, "fault_lat_p99_us", stats_hist_percentile(hist, LAT_BUCKETS, 99) / 1000);
}

void parse_summary(const struct json *s, struct metrics *m)
{
    const char *status = json_string(s, "status", "failed");
    const char *reason = json_string(s, "reason", "");

    snprintf(m->reason, sizeof(m->reason), "%s", reason);
    if (strcmp(status, "ok") == 0) {
        snprintf(m->status, sizeof(m->status), RUN_OK);
    } else if (strstr(reason, "timed out")) {
        snprintf(m->status, sizeof(m->status), RUN_TIMEOUT);
    } else {
        snprintf(m->status, sizeof(m->status), RUN_FAILED);
    }
    double t = json_number(s, "time_to_userspace_s", NAN);
    if (!isnan(t)) {
        metrics_set(m, "time_to_userspace_s", t);
    }
    t = json_number(s, "total_time_s", NAN);
    if (!isnan(t)) {
        metrics_set(m, "total_time_s", t);
    }

    const struct json *nodes = json_get(s, "nodes");
    double faults = 0;
    metrics_set(m, "nodes", (double)json_count(nodes));
    for (const struct json *n = nodes ? nodes->child : NULL; n; n = n->next) {
        if (isnan(json_number(n, "read_faults", NAN))) {
            /* a node left no statistics: sums over the others would read as a real count */
            return;
        }
    }
    for (const struct json *n = nodes ? nodes->child : NULL; n; n = n->next) {
        faults += json_number(n, "read_faults", 0) + json_number(n, "write_faults", 0);
        for (size_t i = 0; i < sizeof(node_counters) / sizeof(node_counters[0]); i++) {
            double v = json_number(n, node_counters[i].field, NAN);
            if (!isnan(v)) {
                metrics_add(m, node_counters[i].metric, v);
            }
        }
    }
    metrics_set(m, "dsm_faults", faults);
    add_latency_histogram(nodes, m);
}

void parse_console(const char *text, struct metrics *m)
{
    const char *p = strstr(text, "DSMVM: userspace up, uptime ");
    if (p) {
        char *end;
        double up = strtod(p + strlen("DSMVM: userspace up, uptime "), &end);
        if (end != p) {
            metrics_set(m, "guest_uptime_at_userspace_s", up);
        }
    }
}
