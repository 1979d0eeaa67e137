/* cmd-summarize.c - one benchmark's runs -> median, spread and ratio per config and metric.
 *
 *   dsmvm-bench summarize --name N --title T --baseline CFG --metrics "m1 m2 ..."
 *                         [--ratio METRIC:BASELINE_METRIC]... --out FILE.json PLAN
 *
 * PLAN lines: "config NAME TIMEOUT_S LAUNCH-ARGS..." then "run NAME RUN_DIR" in the order the
 * runs were made (interleaved), so run i of a config pairs with run i of the baseline. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "json-write.h"
#include "metrics.h"
#include "parse.h"
#include "stats.h"

#define MAX_CONFIGS 16
#define MAX_RUNS 32
#define MAX_METRICS 24

struct config {
    char name[32];
    char args[256];
    double timeout_s;
    int runs, ok, timeouts, failed;
    char last_reason[160];
    double v[MAX_METRICS][MAX_RUNS];     /* NAN where the run has no value */
};

struct plan {
    int nconfigs, nmetrics;
    struct config cfg[MAX_CONFIGS];
    char metric[MAX_METRICS][METRIC_NAME_MAX];
    char ratio_to[MAX_METRICS][METRIC_NAME_MAX];   /* baseline metric for the ratio */
};

static struct config *config_named(struct plan *p, const char *name)
{
    for (int i = 0; i < p->nconfigs; i++) {
        if (strcmp(p->cfg[i].name, name) == 0) {
            return &p->cfg[i];
        }
    }
    return NULL;
}

static void load_run(struct plan *p, struct config *c, const char *dir)
{
    char path[4096];
    struct metrics m;

    if (c->runs == MAX_RUNS) {
        return;
    }
    snprintf(path, sizeof(path), "%s/metrics.txt", dir);
    if (metrics_read(path, &m) < 0) {
        parse_run_dir(dir, &m);
    }
    int r = c->runs++;
    int ok = strcmp(m.status, RUN_OK) == 0;
    c->ok += ok;
    c->timeouts += strcmp(m.status, RUN_TIMEOUT) == 0;
    c->failed += strcmp(m.status, RUN_FAILED) == 0;
    if (!ok) {
        snprintf(c->last_reason, sizeof(c->last_reason), "%s", m.reason);
    }
    for (int k = 0; k < p->nmetrics; k++) {
        double v;
        c->v[k][r] = ok && metrics_get(&m, p->metric[k], &v) ? v : NAN;
    }
}

static int read_plan(const char *path, struct plan *p)
{
    FILE *f = fopen(path, "r");
    char line[1024];

    if (!f) {
        fprintf(stderr, "summarize: cannot open %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char kind[16], name[32];
        int used = 0;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%15s %31s %n", kind, name, &used) < 2) {
            continue;
        }
        if (strcmp(kind, "config") == 0 && p->nconfigs < MAX_CONFIGS && !config_named(p, name)) {
            struct config *c = &p->cfg[p->nconfigs++];
            snprintf(c->name, sizeof(c->name), "%s", name);
            char *rest;
            c->timeout_s = strtod(line + used, &rest);
            while (*rest == ' ') {
                rest++;
            }
            snprintf(c->args, sizeof(c->args), "%s", rest);
        } else if (strcmp(kind, "run") == 0) {
            struct config *c = config_named(p, name);
            if (!c) {
                fprintf(stderr, "summarize: run of unknown config %s\n", name);
                fclose(f);
                return -1;
            }
            load_run(p, c, line + used);
        }
    }
    fclose(f);
    return 0;
}

static int metric_index(const struct plan *p, const char *name)
{
    for (int k = 0; k < p->nmetrics; k++) {
        if (strcmp(p->metric[k], name) == 0) {
            return k;
        }
    }
    return -1;
}

static void write_metric(FILE *f, const struct plan *p, const struct config *c,
                         const struct config *base, int k)
{
    double vals[MAX_RUNS];
    size_t n = 0;
    for (int r = 0; r < c->runs; r++) {
        if (!isnan(c->v[k][r])) {
            vals[n++] = c->v[k][r];
        }
    }
    struct summary s = stats_summarize(vals, n);
    fprintf(f, "        ");
    jw_string(f, p->metric[k]);
    fprintf(f, ": {\"n\": %zu, \"median\": ", s.n);
    jw_number(f, s.n ? s.median : NAN);
    fprintf(f, ", \"min\": ");
    jw_number(f, s.n ? s.min : NAN);
    fprintf(f, ", \"max\": ");
    jw_number(f, s.n ? s.max : NAN);
    fprintf(f, ", \"values\": [");
    for (int r = 0; r < c->runs; r++) {
        fprintf(f, r ? ", " : "");
        jw_number(f, c->v[k][r]);
    }
    fprintf(f, "]");

    int bk = metric_index(p, p->ratio_to[k]);
    if (base && bk >= 0 && s.n) {
        /* ratio of medians, spread from the interleaved pairs (run i against run i) */
        double bvals[MAX_RUNS], a[MAX_RUNS], b[MAX_RUNS];
        size_t bn = 0, pairs = 0;
        for (int r = 0; r < base->runs; r++) {
            if (!isnan(base->v[bk][r])) {
                bvals[bn++] = base->v[bk][r];
            }
        }
        for (int r = 0; r < c->runs && r < base->runs; r++) {
            if (!isnan(c->v[k][r]) && !isnan(base->v[bk][r])) {
                a[pairs] = c->v[k][r];
                b[pairs++] = base->v[bk][r];
            }
        }
        struct summary bs = stats_summarize(bvals, bn);
        struct summary pr = stats_pair_ratios(a, pairs, b, pairs);
        fprintf(f, ", \"ratio_to\": ");
        jw_string(f, p->ratio_to[k]);
        fprintf(f, ", \"ratio\": ");
        jw_number(f, bn ? stats_ratio(s.median, bs.median) : NAN);
        fprintf(f, ", \"ratio_min\": ");
        jw_number(f, pr.n ? pr.min : NAN);
        fprintf(f, ", \"ratio_max\": ");
        jw_number(f, pr.n ? pr.max : NAN);
    }
    fprintf(f, "}");
}

static void write_json(FILE *f, const struct plan *p, const char *name, const char *title,
                       const char *baseline)
{
    const struct config *base = NULL;
    for (int i = 0; i < p->nconfigs; i++) {
        if (strcmp(p->cfg[i].name, baseline) == 0) {
            base = &p->cfg[i];
        }
    }
    fprintf(f, "{\n  \"benchmark\": ");
    jw_string(f, name);
    fprintf(f, ",\n  \"title\": ");
    jw_string(f, title);
    fprintf(f, ",\n  \"baseline\": ");
    jw_string(f, baseline);
    fprintf(f, ",\n  \"metrics\": [");
    for (int k = 0; k < p->nmetrics; k++) {
        fprintf(f, k ? ", " : "");
        jw_string(f, p->metric[k]);
    }
    fprintf(f, "],\n  \"configs\": [\n");
    for (int i = 0; i < p->nconfigs; i++) {
        const struct config *c = &p->cfg[i];
        fprintf(f, "    {\"name\": ");
        jw_string(f, c->name);
        fprintf(f, ", \"args\": ");
        jw_string(f, c->args);
        fprintf(f, ", \"timeout_s\": ");
        jw_number(f, c->timeout_s);
        fprintf(f, ", \"runs\": %d, \"ok\": %d, \"timeouts\": %d, \"failed\": %d, \"last_failure\": ",
                c->runs, c->ok, c->timeouts, c->failed);
        jw_string(f, c->last_reason);
        fprintf(f, ",\n      \"metrics\": {\n");
        for (int k = 0; k < p->nmetrics; k++) {
            write_metric(f, p, c, c == base ? NULL : base, k);
            fprintf(f, k + 1 < p->nmetrics ? ",\n" : "\n");
        }
        fprintf(f, "      }}%s\n", i + 1 < p->nconfigs ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

int cmd_summarize(int argc, char **argv)
{
    static struct plan p;
    const char *name = NULL, *title = "", *baseline = NULL, *out = NULL, *plan = NULL;
    char ratios[MAX_METRICS][2 * METRIC_NAME_MAX];
    int nratios = 0;

    memset(&p, 0, sizeof(p));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--name") == 0 && v) name = v, i++;
        else if (strcmp(a, "--title") == 0 && v) title = v, i++;
        else if (strcmp(a, "--baseline") == 0 && v) baseline = v, i++;
        else if (strcmp(a, "--out") == 0 && v) out = v, i++;
        else if (strcmp(a, "--ratio") == 0 && v && nratios < MAX_METRICS) {
            snprintf(ratios[nratios++], sizeof(ratios[0]), "%s", v);
            i++;
        } else if (strcmp(a, "--metrics") == 0 && v) {
            char buf[1024], *save, *t;
            snprintf(buf, sizeof(buf), "%s", v);
            for (t = strtok_r(buf, " ,", &save); t && p.nmetrics < MAX_METRICS;
                 t = strtok_r(NULL, " ,", &save)) {
                snprintf(p.metric[p.nmetrics], METRIC_NAME_MAX, "%s", t);
                snprintf(p.ratio_to[p.nmetrics], METRIC_NAME_MAX, "%s", t);
                p.nmetrics++;
            }
            i++;
        } else if (a[0] != '-' && !plan) plan = a;
        else {
            fprintf(stderr, "summarize: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!name || !baseline || !out || !plan || !p.nmetrics) {
        fprintf(stderr, "usage: dsmvm-bench summarize --name N [--title T] --baseline CFG "
                "--metrics \"M...\" [--ratio M:BASE_M]... --out FILE PLAN\n");
        return 2;
    }
    /* METRIC:BASE_METRIC - the baseline metric must be collected too */
    for (int r = 0; r < nratios; r++) {
        char *colon = strchr(ratios[r], ':');
        if (!colon) {
            fprintf(stderr, "summarize: --ratio wants METRIC:BASELINE_METRIC\n");
            return 2;
        }
        *colon = 0;
        int k = metric_index(&p, ratios[r]);
        if (k < 0 || metric_index(&p, colon + 1) < 0) {
            fprintf(stderr, "summarize: --ratio %s:%s names a metric not in --metrics\n",
                    ratios[r], colon + 1);
            return 2;
        }
        snprintf(p.ratio_to[k], METRIC_NAME_MAX, "%s", colon + 1);
    }
    if (read_plan(plan, &p) < 0) {
        return 1;
    }
    if (!config_named(&p, baseline)) {
        fprintf(stderr, "summarize: baseline %s is not a config of the plan\n", baseline);
        return 1;
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "summarize: cannot write %s\n", out);
        return 1;
    }
    write_json(f, &p, name, title, baseline);
    return fclose(f) == 0 ? 0 : 1;
}
