/* parse-run.c - every parser over the files a run directory holds, then derived ratios. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "stats.h"

char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, len = 0, r;
    char *buf = f ? malloc(cap + 1) : NULL;

    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            char *nb = realloc(buf, (cap *= 2) + 1);
            if (!nb) {
                free(buf);
            }
            buf = nb;
        }
    }
    if (f) {
        fclose(f);
    }
    if (buf) {
        buf[len] = 0;
    }
    return buf;
}

void parse_dsm_bench(const struct json *j, struct metrics *m)
{
    const struct json *tcp = json_get(j, "tcp");
    if (!tcp) {
        return;
    }
    metrics_set(m, "floor_us", json_number(tcp, "floor_us", 0));
    metrics_set(m, "dsm_bench_read_us", json_number(json_get(tcp, "read_fault_us"), "median", 0));
    metrics_set(m, "dsm_bench_write_us", json_number(json_get(tcp, "write_fault_us"), "median", 0));
}

static void set_prefixed(struct metrics *m, const char *prefix, const char *suffix, double v)
{
    char name[METRIC_NAME_MAX];

    snprintf(name, sizeof(name), "%s_%s", prefix, suffix);
    metrics_set(m, name, v);
}

/* "begin|tick|end SECONDS FAULTS REMOTE" lines (cmd-qmp-watch.c) into PREFIX_* metrics: the
 * counts and mean rates over the window, and the median of the per-interval rates (about a
 * second each), which a burst at either end of the window (the boot's tail, the workload's
 * exit) does not move. */
static void parse_snapshots(const char *text, const char *prefix, struct metrics *m)
{
    double t[2] = { 0 }, faults[2] = { 0 }, remote[2] = { 0 };
    double rates[1024], last_t = 0, last_f = 0;
    size_t nrates = 0;
    int seen[2] = { 0 };
    const char *line = text;

    while (line && *line) {
        char mark[16];
        double a, b, c;
        if (sscanf(line, "%15s %lf %lf %lf", mark, &a, &b, &c) == 4) {
            int i = strcmp(mark, "begin") == 0 ? 0 : strcmp(mark, "end") == 0 ? 1 : -1;
            int tick = strcmp(mark, "tick") == 0;
            if ((tick || i == 1) && seen[0] && !seen[1] && a > last_t
                && nrates < sizeof(rates) / sizeof(rates[0])) {
                rates[nrates++] = (b - last_f) / (a - last_t);
            }
            if (i >= 0) {
                t[i] = a, faults[i] = b, remote[i] = c, seen[i] = 1;
            }
            if (tick || i == 0) {
                last_t = a, last_f = b;
            }
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    if (!seen[0] || !seen[1] || t[1] <= t[0]) {
        return;
    }
    double span = t[1] - t[0];
    set_prefixed(m, prefix, "window_s", span);
    set_prefixed(m, prefix, "faults", faults[1] - faults[0]);
    set_prefixed(m, prefix, "remote_faults", remote[1] - remote[0]);
    set_prefixed(m, prefix, "faults_per_s", (faults[1] - faults[0]) / span);
    set_prefixed(m, prefix, "remote_faults_per_s", (remote[1] - remote[0]) / span);
    /* with only begin and end this is the mean again */
    set_prefixed(m, prefix, "median_faults_per_s", stats_summarize(rates, nrates).median);
}

/* Between the idle workload's markers. */
void parse_idle_snapshots(const char *text, struct metrics *m)
{
    parse_snapshots(text, "idle", m);
}

/* From "userspace up" to the workload's exit line: the workload's own faults. */
void parse_workload_snapshots(const char *text, struct metrics *m)
{
    parse_snapshots(text, "workload", m);
}

void parse_derive(struct metrics *m)
{
    double remote, v;

    if (!metrics_get(m, "dsm_faults_remote", &remote) || remote <= 0) {
        return;
    }
    /* The DSM's own message count when the nodes export it, else TCP sends seen by perf. */
    if (metrics_get(m, "dsm_msgs_sent", &v) || metrics_get(m, "perf_sendmsg", &v)) {
        metrics_set(m, "msgs_per_remote_fault", v / remote);
    }
    if (metrics_get(m, "perf_syscalls", &v)) {
        metrics_set(m, "syscalls_per_remote_fault", v / remote);
    }
    if (metrics_get(m, "perf_context_switches", &v)) {
        metrics_set(m, "ctxsw_per_remote_fault", v / remote);
    }
}

/* Per sysbench event, the remote faults of the workload's window: what its sharing costs. */
void parse_derive_per_event(struct metrics *m)
{
    double remote, events;

    if (metrics_get(m, "workload_remote_faults", &remote)
        && metrics_get(m, "sysbench_events", &events) && events > 0) {
        metrics_set(m, "remote_faults_per_event", remote / events);
    }
}

/* Text files in dir whose names start with prefix, each given to fn. */
static void each_file(const char *dir, const char *prefix, void (*fn)(const char *, struct metrics *),
                      struct metrics *m)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        char *text = read_text_file(path);
        if (text) {
            fn(text, m);
            free(text);
        }
    }
    if (d) {
        closedir(d);
    }
}

static void parse_guest_console(const char *text, struct metrics *m)
{
    parse_console(text, m);
    parse_sysbench(text, m);
    parse_sysbench_procs(text, m);
    parse_stressng(text, m);
}

/* The last non-empty line of text into buf. */
static void last_line(const char *text, char *buf, size_t len)
{
    const char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) {
        end--;
    }
    const char *start = end;
    while (start > text && start[-1] != '\n') {
        start--;
    }
    snprintf(buf, len, "%.*s", (int)(end - start), start);
}

int parse_run_dir(const char *dir, struct metrics *m)
{
    char path[4096], err[256];
    int found = 0;
    struct json *j;

    metrics_init(m);
    snprintf(path, sizeof(path), "%s/summary.json", dir);
    if ((j = json_parse_file(path, err, sizeof(err)))) {
        parse_summary(j, m);
        json_free(j);
        found = 1;
    }
    snprintf(path, sizeof(path), "%s/dsm-bench.json", dir);
    if ((j = json_parse_file(path, err, sizeof(err)))) {
        parse_dsm_bench(j, m);
        json_free(j);
        found = 1;
    }
    if (!found) {
        /* The launcher refused to start or was killed: its last words say why. */
        snprintf(m->status, sizeof(m->status), RUN_FAILED);
        snprintf(path, sizeof(path), "%s/launch.out", dir);
        char *out = read_text_file(path);
        last_line(out ? out : "", m->reason, sizeof(m->reason));
        if (!m->reason[0]) {
            snprintf(m->reason, sizeof(m->reason), "no summary.json or dsm-bench.json in the run");
        }
        free(out);
        return -1;
    }
    each_file(dir, "serial0.log", parse_guest_console, m);
    each_file(dir, "perf-stat", parse_perf_stat, m);
    each_file(dir, "fault-latency", parse_fault_latency, m);
    each_file(dir, "idle-snapshots", parse_idle_snapshots, m);
    each_file(dir, "workload-snapshots", parse_workload_snapshots, m);
    parse_derive(m);
    parse_derive_per_event(m);
    return 0;
}
