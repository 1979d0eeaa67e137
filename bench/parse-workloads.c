/* parse-workloads.c - results of the guest's benchmark programs (sysbench, stress-ng). */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* The number after `label` (and any spaces), on the line where label occurs. */
static int number_after(const char *text, const char *label, double *out)
{
    const char *p = strstr(text, label);
    if (!p) {
        return 0;
    }
    p += strlen(label);
    char *end;
    double v = strtod(p, &end);
    if (end == p) {
        return 0;
    }
    *out = v;
    return 1;
}

void parse_sysbench(const char *text, struct metrics *m)
{
    const char *report = strstr(text, "General statistics:");
    double v, time = 0, events = 0;

    if (!strstr(text, "sysbench ") || !report) {
        return;
    }
    if (number_after(report, "total time:", &time)) {
        metrics_set(m, "sysbench_time_s", time);
    }
    if (number_after(report, "total number of events:", &events)) {
        metrics_set(m, "sysbench_events", events);
    }
    /* cpu prints its rate; the others are events over the measured time */
    if (number_after(text, "events per second:", &v)) {
        metrics_set(m, "sysbench_events_per_s", v);
    } else if (time > 0) {
        metrics_set(m, "sysbench_events_per_s", events / time);
    }
    const char *mib = strstr(text, " MiB/sec)");
    if (mib) {
        const char *open = mib;
        while (open > text && open[-1] != '(') {
            open--;
        }
        metrics_set(m, "sysbench_mib_per_s", strtod(open, NULL));
    }
    const char *lat = strstr(report, "Latency (ms):");
    if (lat && number_after(lat, "avg:", &v)) {
        metrics_set(m, "sysbench_latency_avg_ms", v);
    }
    if (lat && number_after(lat, "95th percentile:", &v)) {
        metrics_set(m, "sysbench_latency_p95_ms", v);
    }
}

/* The sysbench-procs workload: one process per CPU, and the sums of their rates and events. */
void parse_sysbench_procs(const char *text, struct metrics *m)
{
    const char *rate = "processes, total events per second:", *count = "processes, total events:";
    const char *p = strstr(text, "sysbench-procs: "), *q;
    double v;

    if (p && (q = strstr(p, rate)) && number_after(q, rate, &v)) {
        metrics_set(m, "sysbench_events_per_s", v);
    }
    if (p && (q = strstr(p, count)) && number_after(q, count, &v)) {
        metrics_set(m, "sysbench_events", v);
    }
}

/* A --metrics-brief row: "stress-ng: metrc: [pid] NAME OPS REAL USR SYS RATE RATE". */
static int stressng_row(const char *line, double *ops, double *rate)
{
    const char *p = strchr(line, ']');
    double f[6];
    char name[32];
    int used;

    if (!p || sscanf(p + 1, " %31s%n", name, &used) != 1 || strcmp(name, "stressor") == 0) {
        return 0;
    }
    p += 1 + used;
    for (int i = 0; i < 6; i++) {
        char *end;
        f[i] = strtod(p, &end);
        if (end == p) {
            return 0;
        }
        p = end;
    }
    *ops = f[0];
    *rate = f[4];
    return 1;
}

void parse_stressng(const char *text, struct metrics *m)
{
    const char *line = text;
    double total_ops = 0, total_rate = 0;
    int rows = 0;

    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[512];
        double ops, rate;

        if (len < sizeof(buf)) {
            memcpy(buf, line, len);
            buf[len] = 0;
            if (strstr(buf, "stress-ng:") && (strstr(buf, " metrc: ") || strstr(buf, " info: "))
                && stressng_row(buf, &ops, &rate)) {
                total_ops += ops;
                total_rate += rate;
                rows++;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    if (rows) {
        metrics_set(m, "stressng_bogo_ops", total_ops);
        metrics_set(m, "stressng_bogo_ops_per_s", total_rate);
    }
}
