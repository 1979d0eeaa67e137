/* parse-perf.c - what perf saw of the QEMU processes: counts and fault latencies. */
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "stats.h"

/* perf stat event name -> metric. */
static const struct {
    const char *event, *metric;
} perf_events[] = {
    { "context-switches", "perf_context_switches" },
    { "cs", "perf_context_switches" },
    { "raw_syscalls:sys_enter", "perf_syscalls" },
    { "syscalls:sys_enter_sendmsg", "perf_sendmsg" },
};

void parse_perf_stat(const char *text, struct metrics *m)
{
    const char *line = text;

    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[512], *field[4] = { 0 };
        int nf = 0;

        if (len < sizeof(buf) && line[0] != '#') {
            memcpy(buf, line, len);
            buf[len] = 0;
            /* value,unit,event,... (empty fields allowed, so no strtok) */
            for (char *p = buf; p && nf < 4; nf++) {
                field[nf] = p;
                p = strchr(p, ',');
                if (p) {
                    *p++ = 0;
                }
            }
            char *end;
            double v = nf >= 3 ? strtod(field[0], &end) : 0;
            if (nf >= 3 && end != field[0]) {
                for (size_t i = 0; i < sizeof(perf_events) / sizeof(perf_events[0]); i++) {
                    if (strcmp(field[2], perf_events[i].event) == 0) {
                        metrics_add(m, perf_events[i].metric, v);
                    }
                }
            }
        }
        line = eol ? eol + 1 : NULL;
    }
}

void parse_fault_latency(const char *text, struct metrics *m)
{
    size_t n = 0, cap = 1024;
    double *lat = malloc(cap * sizeof(*lat));
    const char *p = text;

    while (lat && (p = strstr(p, "fault_end"))) {
        const char *eol = strchr(p, '\n');
        const char *a = strstr(p, "arg4=");
        if (a && (!eol || a < eol)) {
            char *end;
            unsigned long long ns = strtoull(a + 5, &end, 0);
            if (end != a + 5) {
                if (n == cap) {
                    double *nl = realloc(lat, (cap *= 2) * sizeof(*lat));
                    if (!nl) {
                        break;
                    }
                    lat = nl;
                }
                lat[n++] = (double)ns / 1000.0;
            }
        }
        p = eol ? eol : p + strlen("fault_end");
    }
    if (lat && n) {
        stats_summarize(lat, n);     /* sorts */
        metrics_set(m, "fault_lat_samples", (double)n);
        metrics_set(m, "fault_lat_p50_us", stats_percentile_sorted(lat, n, 50));
        metrics_set(m, "fault_lat_p90_us", stats_percentile_sorted(lat, n, 90));
        metrics_set(m, "fault_lat_p99_us", stats_percentile_sorted(lat, n, 99));
    }
    free(lat);
}
