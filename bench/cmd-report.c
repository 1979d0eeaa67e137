/* cmd-report.c - the terminal table, the combined JSON and the data files for gnuplot.
 *
 *   dsmvm-bench report --out-dir DIR [--quick] BENCH.json...
 *
 * Writes DIR/bench.json (every benchmark), DIR/ratios.dat (first metric of each benchmark,
 * each config against its baseline) and DIR/latency.dat (fault-latency percentiles). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "json.h"
#include "parse.h"

static void print_value(char *buf, size_t len, double v)
{
    if (fabs(v) >= 1000) {
        snprintf(buf, len, "%.0f", v);
    } else {
        snprintf(buf, len, "%.4g", v);
    }
}

/* "timeout (3 of 3 runs, limit 300 s)" and similar, for a config with no usable run. */
static void print_outcome(const struct json *c)
{
    int runs = (int)json_number(c, "runs", 0);
    int to = (int)json_number(c, "timeouts", 0), failed = (int)json_number(c, "failed", 0);
    if (to) {
        printf("    %-10s timeout: %d of %d runs exceeded %.0f s\n", json_string(c, "name", "?"),
               to, runs, json_number(c, "timeout_s", 0));
    }
    if (failed) {
        printf("    %-10s failed: %d of %d runs (last: %s)\n", json_string(c, "name", "?"),
               failed, runs, json_string(c, "last_failure", "?"));
    }
}

static void print_bench(const struct json *b, FILE *ratios, FILE *latency)
{
    const char *name = json_string(b, "benchmark", "?");
    const char *baseline = json_string(b, "baseline", "?");
    const struct json *metrics = json_get(b, "metrics");
    const char *headline = metrics && metrics->child && metrics->child->type == JSON_STRING ?
                           metrics->child->string : "";

    printf("\n%s: %s (baseline %s)\n", name, json_string(b, "title", ""), baseline);
    printf("    %-10s %-27s %11s %23s %9s %19s\n", "config", "metric", "median", "[min - max]",
           "ratio", "[min - max]");
    const struct json *configs = json_get(b, "configs");
    for (const struct json *c = configs ? configs->child : NULL; c; c = c->next) {
        const char *cname = json_string(c, "name", "?");
        const struct json *cm = json_get(c, "metrics");
        int rows = 0;
        for (const struct json *m = cm ? cm->child : NULL; m; m = m->next) {
            if (json_number(m, "n", 0) < 1) {
                continue;
            }
            char med[24], lo[24], hi[24], range[64], ratio[24] = "", rrange[128] = "";
            print_value(med, sizeof(med), json_number(m, "median", 0));
            print_value(lo, sizeof(lo), json_number(m, "min", 0));
            print_value(hi, sizeof(hi), json_number(m, "max", 0));
            snprintf(range, sizeof(range), "[%s - %s]", lo, hi);
            double r = json_number(m, "ratio", NAN);
            if (!isnan(r)) {
                const char *to = json_string(m, "ratio_to", m->key);
                snprintf(ratio, sizeof(ratio), "%.3gx", r);
                double rl = json_number(m, "ratio_min", NAN), rh = json_number(m, "ratio_max", NAN);
                if (!isnan(rl)) {
                    snprintf(rrange, sizeof(rrange), "[%.3g - %.3g]%s%s", rl, rh,
                             strcmp(to, m->key) ? " of " : "", strcmp(to, m->key) ? to : "");
                }
                if (ratios && strcmp(m->key, headline) == 0) {
                    fprintf(ratios, "\"%s %s\" %g %g %g\n", name, cname, r,
                            isnan(rl) ? r : rl, isnan(rh) ? r : rh);
                }
            }
            printf("    %-10s %-27s %11s %23s %9s %19s\n", rows++ ? "" : cname, m->key, med,
                   range, ratio, rrange);
            if (latency && strncmp(m->key, "fault_lat_p", 11) == 0) {
                fprintf(latency, "\"%s %s\" %s %g\n", name, cname, m->key + 10,
                        json_number(m, "median", 0));
            }
            if (latency && strcmp(m->key, "floor_us") == 0) {
                fprintf(latency, "\"%s %s\" floor %g\n", name, cname, json_number(m, "median", 0));
            }
        }
        if (json_number(c, "ok", 0) < json_number(c, "runs", 0)) {
            print_outcome(c);
        }
    }
}

int cmd_report(int argc, char **argv)
{
    const char *dir = NULL;
    int quick = 0, first = 1;
    char path[4096], err[256];

    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--out-dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else {
            break;
        }
    }
    if (!dir || i >= argc) {
        fprintf(stderr, "usage: dsmvm-bench report --out-dir DIR [--quick] BENCH.json...\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/bench.json", dir);
    FILE *all = fopen(path, "w");
    snprintf(path, sizeof(path), "%s/ratios.dat", dir);
    FILE *ratios = fopen(path, "w");
    snprintf(path, sizeof(path), "%s/latency.dat", dir);
    FILE *latency = fopen(path, "w");
    if (!all || !ratios || !latency) {
        fprintf(stderr, "report: cannot write into %s\n", dir);
        return 1;
    }
    time_t now = time(NULL);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(all, "{\"generated\": \"%s\", \"quick\": %s, \"benchmarks\": [\n", stamp,
            quick ? "true" : "false");
    fprintf(ratios, "# label ratio ratio_min ratio_max (first metric, against the baseline)\n");
    fprintf(latency, "# label percentile microseconds\n");
    int rc = 0;
    for (; i < argc; i++) {
        char *text = read_text_file(argv[i]);
        struct json *b = text ? json_parse(text, strlen(text), err, sizeof(err)) : NULL;
        if (!b) {
            fprintf(stderr, "report: %s: %s\n", argv[i], text ? err : "cannot read");
            free(text);
            rc = 1;
            continue;
        }
        print_bench(b, ratios, latency);
        fprintf(all, "%s%s", first ? "" : ",\n", text);
        first = 0;
        json_free(b);
        free(text);
    }
    fprintf(all, "]}\n");
    fclose(all);
    fclose(ratios);
    fclose(latency);
    return rc;
}
