/* test-bench - the statistics and parsers of dsmvm-bench against recorded samples.
 *   test-bench SAMPLES_DIR      exit 0 when every check passes, 1 otherwise */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "parse.h"
#include "stats.h"

static int failures, checks;
static const char *samples;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)
static void check(int ok, const char *what, const char *file, int line)
{
    checks++;
    if (!ok) {
        failures++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    }
}

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-6 * fmax(1.0, fabs(b));
}

/* The metric's value, NAN when missing. */
static double get(const struct metrics *m, const char *name)
{
    double v;
    return metrics_get(m, name, &v) ? v : NAN;
}

static char *sample(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", samples, name);
    char *t = read_text_file(path);
    if (!t) {
        fprintf(stderr, "cannot read sample %s\n", path);
        exit(1);
    }
    return t;
}

static struct json *sample_json(const char *name)
{
    char *t = sample(name), err[128];
    struct json *j = json_parse(t, strlen(t), err, sizeof(err));
    if (!j) {
        fprintf(stderr, "sample %s: %s\n", name, err);
        exit(1);
    }
    free(t);
    return j;
}

static void test_stats(void)
{
    double odd[] = { 5, 1, 3 }, even[] = { 4, 1, 3, 2 };
    struct summary s = stats_summarize(odd, 3);
    CHECK(s.n == 3 && s.median == 3 && s.min == 1 && s.max == 5);
    s = stats_summarize(even, 4);
    CHECK(s.median == 2.5 && s.min == 1 && s.max == 4);
    CHECK(stats_summarize(NULL, 0).n == 0);

    double sorted[] = { 100, 200, 300, 400, 1000 };
    CHECK(near(stats_percentile_sorted(sorted, 5, 50), 300));
    CHECK(near(stats_percentile_sorted(sorted, 5, 90), 760));
    CHECK(near(stats_percentile_sorted(sorted, 5, 0), 100));
    CHECK(near(stats_percentile_sorted(sorted, 5, 100), 1000));

    uint64_t hist[20] = { 0 };
    hist[10] = 2;   /* [1024, 2048) */
    hist[11] = 2;   /* [2048, 4096) */
    CHECK(near(stats_hist_percentile(hist, 20, 25), 1536));
    CHECK(near(stats_hist_percentile(hist, 20, 50), 2048));
    CHECK(near(stats_hist_percentile(hist, 20, 100), 4096));
    uint64_t empty[4] = { 0 };
    CHECK(stats_hist_percentile(empty, 4, 50) == 0);

    CHECK(near(stats_ratio(30, 10), 3));
    CHECK(isnan(stats_ratio(1, 0)));
    /* interleaved pairs: (2,1) (9,3) (8,4) -> ratios 2, 3, 2 */
    double a[] = { 2, 9, 8 }, b[] = { 1, 3, 4, 7 };
    s = stats_pair_ratios(a, 3, b, 4);
    CHECK(s.n == 3 && s.median == 2 && s.min == 2 && s.max == 3);
    double bz[] = { 0, 1 };
    CHECK(stats_pair_ratios(a, 2, bz, 2).n == 1);
}

static void test_json(void)
{
    const char *doc = "{\"a\": [1, 2.5e1, -3], \"s\": \"x\\\"y\\u00e9\\n\", \"t\": true, "
                      "\"f\": false, \"n\": null, \"o\": {\"k\": \"v\"}}";
    char err[128];
    struct json *j = json_parse(doc, strlen(doc), err, sizeof(err));
    CHECK(j != NULL);
    CHECK(json_count(json_get(j, "a")) == 3);
    CHECK(json_get(j, "a")->child->next->number == 25);
    CHECK(strcmp(json_string(j, "s", ""), "x\"y\xc3\xa9\n") == 0);
    CHECK(json_get(j, "t")->number == 1 && json_get(j, "f")->number == 0);
    CHECK(json_get(j, "n")->type == JSON_NULL);
    CHECK(strcmp(json_string(json_get(j, "o"), "k", ""), "v") == 0);
    CHECK(isnan(json_number(j, "missing", NAN)));
    json_free(j);
    const char *bad[] = { "{\"a\": }", "[1, 2", "{\"a\" 1}", "tru", "[1] x", "\"open" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
        CHECK(j == NULL && err[0]);
        json_free(j);
    }
}

static void test_sysbench(void)
{
    struct metrics m;
    char *t = sample("sysbench-cpu.txt");
    metrics_init(&m);
    parse_sysbench(t, &m);
    CHECK(near(get(&m, "sysbench_events_per_s"), 1317.69));
    CHECK(near(get(&m, "sysbench_events"), 1348));
    CHECK(near(get(&m, "sysbench_time_s"), 1.0212));
    CHECK(near(get(&m, "sysbench_latency_avg_ms"), 1.48));
    CHECK(near(get(&m, "sysbench_latency_p95_ms"), 12.30));
    CHECK(isnan(get(&m, "sysbench_mib_per_s")));
    free(t);

    /* sysbench-procs: the total, not a single process's rate; nothing from the others */
    metrics_init(&m);
    parse_sysbench_procs(t = sample("sysbench-procs.txt"), &m);
    CHECK(near(get(&m, "sysbench_events_per_s"), 985.43));
    CHECK(near(get(&m, "sysbench_events"), 9856));
    parse_sysbench(t, &m);
    CHECK(near(get(&m, "sysbench_events_per_s"), 985.43));
    free(t);
    metrics_init(&m);
    parse_sysbench_procs(t = sample("sysbench-cpu.txt"), &m);
    CHECK(isnan(get(&m, "sysbench_events_per_s")));
    free(t);

    metrics_init(&m);
    parse_sysbench(t = sample("sysbench-threads.txt"), &m);
    CHECK(near(get(&m, "sysbench_events_per_s"), 175 / 1.0157));
    free(t);

    metrics_init(&m);
    parse_sysbench(t = sample("sysbench-mutex.txt"), &m);
    CHECK(near(get(&m, "sysbench_time_s"), 0.0023));
    CHECK(near(get(&m, "sysbench_events"), 2));
    free(t);

    metrics_init(&m);
    parse_sysbench(t = sample("sysbench-memory.txt"), &m);
    CHECK(near(get(&m, "sysbench_mib_per_s"), 595.42));
    CHECK(near(get(&m, "sysbench_events"), 661940));
    free(t);

    /* a console without a sysbench report adds nothing */
    metrics_init(&m);
    parse_sysbench("sysbench 1.0.20\r\nFATAL: out of memory\r\n", &m);
    CHECK(m.count == 0);
}

static void test_stressng(void)
{
    struct metrics m;
    char *t = sample("stress-ng-cpu.txt");
    metrics_init(&m);
    parse_stressng(t, &m);
    CHECK(near(get(&m, "stressng_bogo_ops"), 96));
    CHECK(near(get(&m, "stressng_bogo_ops_per_s"), 89.67));
    free(t);
    metrics_init(&m);
    parse_stressng("stress-ng: info:  [1] dispatching hogs: 2 cpu\n", &m);
    CHECK(m.count == 0);
}

static void test_summary(void)
{
    struct metrics m;
    struct json *j = sample_json("summary-2x1.json");
    metrics_init(&m);
    parse_summary(j, &m);
    CHECK(strcmp(m.status, RUN_OK) == 0);
    CHECK(near(get(&m, "time_to_userspace_s"), 41.25));
    CHECK(near(get(&m, "total_time_s"), 44.5));
    CHECK(near(get(&m, "dsm_faults"), 160000));
    CHECK(near(get(&m, "dsm_faults_remote"), 120000));
    CHECK(near(get(&m, "dsm_invalidations"), 3500));
    CHECK(near(get(&m, "nodes"), 2));
    CHECK(isnan(get(&m, "fault_lat_p50_us")));
    json_free(j);

    j = sample_json("summary-timeout.json");
    metrics_init(&m);
    parse_summary(j, &m);
    CHECK(strcmp(m.status, RUN_TIMEOUT) == 0);
    CHECK(isnan(get(&m, "time_to_userspace_s")));
    /* histograms of both nodes merged: 8 in [2^17, 2^18) ns, 2 in [2^18, 2^19) */
    CHECK(near(get(&m, "fault_lat_samples"), 10));
    CHECK(near(get(&m, "fault_lat_p50_us"), 212.992));
    CHECK(near(get(&m, "fault_lat_p90_us"), 393.216));
    json_free(j);

    /* a node without statistics: no fault totals at all rather than the other node's */
    static const char partial[] = "{\"status\": \"ok\", \"nodes\": [{\"node\": 0, "
        "\"exit_reason\": \"no statistics\"}, {\"node\": 1, \"read_faults\": 5, "
        "\"write_faults\": 6, \"faults_remote\": 11}]}";
    char err[128];
    j = json_parse(partial, strlen(partial), err, sizeof(err));
    CHECK(j != NULL);
    metrics_init(&m);
    parse_summary(j, &m);
    CHECK(strcmp(m.status, RUN_OK) == 0);
    CHECK(near(get(&m, "nodes"), 2));
    CHECK(isnan(get(&m, "dsm_faults")));
    CHECK(isnan(get(&m, "dsm_faults_remote")));
    json_free(j);

    metrics_init(&m);
    parse_console("\r\nDSMVM: userspace up, uptime 2.04 s, 2 cpus online\r\n", &m);
    CHECK(near(get(&m, "guest_uptime_at_userspace_s"), 2.04));
}

static void test_perf_and_derive(void)
{
    struct metrics m;
    char *t = sample("perf-stat.txt");
    metrics_init(&m);
    parse_perf_stat(t, &m);
    parse_perf_stat(t, &m);     /* a second node's file adds up */
    CHECK(near(get(&m, "perf_context_switches"), 12));
    CHECK(near(get(&m, "perf_syscalls"), 354));
    CHECK(near(get(&m, "perf_sendmsg"), 0));
    free(t);
    metrics_set(&m, "perf_sendmsg", 60);
    metrics_set(&m, "dsm_faults_remote", 20);
    parse_derive(&m);
    CHECK(near(get(&m, "syscalls_per_remote_fault"), 17.7));
    CHECK(near(get(&m, "ctxsw_per_remote_fault"), 0.6));
    CHECK(near(get(&m, "msgs_per_remote_fault"), 3));
    metrics_set(&m, "dsm_msgs_sent", 80);   /* the DSM's own count wins over sendmsg */
    parse_derive(&m);
    CHECK(near(get(&m, "msgs_per_remote_fault"), 4));

    metrics_init(&m);
    parse_fault_latency(t = sample("fault-latency.txt"), &m);
    CHECK(near(get(&m, "fault_lat_samples"), 5));
    CHECK(near(get(&m, "fault_lat_p50_us"), 300));
    CHECK(near(get(&m, "fault_lat_p90_us"), 760));
    CHECK(near(get(&m, "fault_lat_p99_us"), 976));
    free(t);

    struct json *j = sample_json("dsm-bench.json");
    metrics_init(&m);
    parse_dsm_bench(j, &m);
    CHECK(near(get(&m, "floor_us"), 181.85));
    CHECK(near(get(&m, "dsm_bench_read_us"), 215.18));
    json_free(j);

    metrics_init(&m);
    parse_idle_snapshots(t = sample("idle-snapshots.txt"), &m);
    CHECK(near(get(&m, "idle_window_s"), 30));
    CHECK(near(get(&m, "idle_faults_per_s"), 100));
    CHECK(near(get(&m, "idle_remote_faults_per_s"), 50));
    free(t);
    metrics_init(&m);
    parse_idle_snapshots("begin 100 5 5\n", &m);    /* no end marker: no rate */
    CHECK(m.count == 0);
    /* a tail of the boot in the first second and the exit in the last one: the median of
     * the per-second rates is the steady 2/s, the mean is not */
    metrics_init(&m);
    parse_idle_snapshots("begin 10 100 90\ntick 11 700 690\ntick 12 702 692\ntick 13 704 694\n"
                         "tick 14 706 696\nend 14.5 1006 996\n", &m);
    CHECK(near(get(&m, "idle_faults_per_s"), 906 / 4.5));
    CHECK(near(get(&m, "idle_median_faults_per_s"), 2));
    metrics_init(&m);
    parse_idle_snapshots(t = sample("idle-snapshots.txt"), &m);
    CHECK(near(get(&m, "idle_median_faults_per_s"), 100));
    free(t);

    /* the workload's window: its own counts, and per sysbench event */
    metrics_init(&m);
    parse_workload_snapshots("begin 10 100 90\ntick 11 700 690\nend 20 3100 2090\n", &m);
    CHECK(near(get(&m, "workload_window_s"), 10));
    CHECK(near(get(&m, "workload_faults"), 3000));
    CHECK(near(get(&m, "workload_remote_faults"), 2000));
    CHECK(isnan(get(&m, "idle_window_s")));
    metrics_set(&m, "sysbench_events", 800);
    parse_derive_per_event(&m);
    CHECK(near(get(&m, "remote_faults_per_event"), 2.5));
    /* one node: no remote fault at all is a count, 0 per event */
    metrics_init(&m);
    parse_workload_snapshots("begin 1 10 0\nend 11 20 0\n", &m);
    metrics_set(&m, "sysbench_events", 800);
    parse_derive_per_event(&m);
    CHECK(get(&m, "remote_faults_per_event") == 0);
    /* no events (not sysbench) or no window: nothing derived */
    metrics_init(&m);
    metrics_set(&m, "workload_remote_faults", 5);
    parse_derive_per_event(&m);
    CHECK(isnan(get(&m, "remote_faults_per_event")));
}

static void test_metrics_file(void)
{
    struct metrics m, back;
    char path[] = "/tmp/test-bench-metrics-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(f != NULL);
    if (!f) {
        return;
    }
    metrics_init(&m);
    snprintf(m.status, sizeof(m.status), RUN_TIMEOUT);
    snprintf(m.reason, sizeof(m.reason), "timed out after 300 s");
    metrics_set(&m, "total_time_s", 300.25);
    metrics_write(&m, f);
    fclose(f);
    CHECK(metrics_read(path, &back) == 0);
    CHECK(strcmp(back.status, RUN_TIMEOUT) == 0);
    CHECK(strcmp(back.reason, "timed out after 300 s") == 0);
    CHECK(near(get(&back, "total_time_s"), 300.25));
    remove(path);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test-bench SAMPLES_DIR\n");
        return 2;
    }
    samples = argv[1];
    test_stats();
    test_json();
    test_sysbench();
    test_stressng();
    test_summary();
    test_perf_and_derive();
    test_metrics_file();
    printf("test-bench: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
