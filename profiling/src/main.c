/* main.c - dsmvm-prof: hot-page profiler for dsmvm runs recorded with --profile. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "prof.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: dsmvm-prof report RUN_DIR [options]\n"
        "       dsmvm-prof compare RUN_A RUN_B [options]\n"
        "       dsmvm-prof suggest RUN_DIR [--top N] [--min-share P] [--system-map PATH]\n"
        "RUN_DIR is a launcher run directory recorded with 'dsmvm-launch --profile'.\n"
        "suggest prints the hot kernel variables of the top N pages (by cross-node write\n"
        "faults) that share their page with other data, in the format of\n"
        "guest-kernel-patches/hot-symbols.list.\n"
        "options:\n"
        "  --sort KEY         table 1 order: xwrite (cross-node write faults, default),\n"
        "                     faults, latency (total wait), inval\n"
        "  --top N            rows of table 1, or pages suggest looks at (default 20)\n"
        "  --min-share P      suggest: percent of its page's faults a variable needs\n"
        "                     to be listed (default 10)\n"
        "  --detail N         pages shown in table 2 (default 5)\n"
        "  --json             machine-readable output on stdout instead of text\n"
        "  --no-html          no plots, no HTML\n"
        "  --out DIR          plots and HTML (default RUN_DIR/profile/report, or\n"
        "                     RUN_B/profile/compare for compare)\n"
        "  --system-map PATH  the guest kernel's System.map (default: the recorded copy)\n"
        "  --symbol NAME      compare: follow the page of this symbol (default jiffies_64)\n"
        "  --window FROM[:TO] only faults FROM to TO seconds after each node's first\n"
        "                     one (e.g. 20: leaves the boot out of an idle run)\n"
        "  --quiet            no progress messages\n");
}

static int number(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : -1;
    if (!v || errno || *end || n < 0 || n > 100000) {
        prof_die("%s needs a number from 0 to 100000", opt);
    }
    return (int)n;
}

/* "FROM" or "FROM:TO", seconds, 0 <= FROM < TO. */
static void window(struct prof_opts *o, const char *v)
{
    char *end;
    o->window_to = -1;
    o->window_from = v ? strtod(v, &end) : -1;
    if (v && end != v && *end == ':') {
        const char *t = end + 1;
        o->window_to = strtod(t, &end);
        if (end == t) {
            o->window_to = -2;
        }
    }
    if (!v || end == v || *end || !(o->window_from >= 0) || o->window_from > 1e6 ||
        (o->window_to != -1 && !(o->window_to > o->window_from && o->window_to <= 1e6))) {
        prof_die("--window takes FROM or FROM:TO in seconds with 0 <= FROM < TO, not '%s'",
                 v ? v : "");
    }
    o->window = 1;
}

/* A percentage, 0 to 100. */
static double percent(const char *opt, const char *v)
{
    char *end;
    double d = v ? strtod(v, &end) : -1;
    if (!v || end == v || *end || !(d >= 0 && d <= 100)) {
        prof_die("%s needs a percentage from 0 to 100, not '%s'", opt, v ? v : "");
    }
    return d;
}

static void make_dir(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            mkdir(tmp, 0755);
            *s = '/';
        }
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
        prof_die("cannot create %s: %s", path, strerror(errno));
    }
}

int main(int argc, char **argv)
{
    struct prof_opts o = { .sort = "xwrite", .top = 20, .detail = 5, .html = 1,
                           .symbol = "jiffies_64", .min_share = 10 };
    const char *pos[3];
    int npos = 0;
    char outbuf[4200];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--sort") == 0 && v) {
            o.sort = v, i++;
        } else if (strcmp(a, "--top") == 0) {
            o.top = number(a, v), i++;
        } else if (strcmp(a, "--min-share") == 0) {
            o.min_share = percent(a, v), i++;
        } else if (strcmp(a, "--detail") == 0) {
            o.detail = number(a, v), i++;
        } else if (strcmp(a, "--json") == 0) {
            o.json = 1;
        } else if (strcmp(a, "--no-html") == 0) {
            o.html = 0;
        } else if (strcmp(a, "--out") == 0 && v) {
            o.out = v, i++;
        } else if (strcmp(a, "--system-map") == 0 && v) {
            o.system_map = v, i++;
        } else if (strcmp(a, "--symbol") == 0 && v) {
            o.symbol = v, i++;
        } else if (strcmp(a, "--window") == 0) {
            window(&o, v), i++;
        } else if (strcmp(a, "--quiet") == 0) {
            o.quiet = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' || npos == 3) {
            usage(stderr);
            prof_die("unknown option or extra argument '%s'", a);
        } else {
            pos[npos++] = a;
        }
    }
    if (npos == 2 && strcmp(pos[0], "report") == 0) {
        struct prof p;
        size_t *order;
        prof_load(&p, pos[1], &o);
        if (prof_sort_pages(&p, o.sort, &order) < 0) {
            prof_die("--sort takes xwrite, faults, latency or inval, not '%s'", o.sort);
        }
        if (o.json) {
            report_json(&p, &o, order, stdout);
        } else {
            report_text(&p, &o, order, stdout);
        }
        if (o.html) {
            if (!o.out) {
                snprintf(outbuf, sizeof(outbuf), "%s/profile/report", pos[1]);
                o.out = outbuf;
            }
            make_dir(o.out);
            plots_write(&p, NULL, o.out, &o);
            report_html(&p, &o, order, o.out);
            prof_progress(&o, "HTML: %s/report.html", o.out);
        }
        free(order);
        prof_free(&p);
        return 0;
    }
    if (npos == 2 && strcmp(pos[0], "suggest") == 0) {
        struct prof p;
        size_t *order;
        if (strcmp(o.sort, "xwrite") != 0) {
            prof_die("suggest ranks pages by cross-node write faults only: drop --sort %s", o.sort);
        }
        prof_load(&p, pos[1], &o);
        if (!p.have_kmap) {
            prof_die("suggest needs the guest kernel's System.map: %s/profile has none "
                     "(--system-map PATH)", pos[1]);
        }
        prof_sort_pages(&p, o.sort, &order);
        suggest_symbols(&p, &o, order, stdout);
        free(order);
        prof_free(&p);
        return 0;
    }
    if (npos == 3 && strcmp(pos[0], "compare") == 0) {
        struct prof a, b;
        prof_load(&a, pos[1], &o);
        prof_load(&b, pos[2], &o);
        if (o.html) {
            if (!o.out) {
                snprintf(outbuf, sizeof(outbuf), "%s/profile/compare", pos[2]);
                o.out = outbuf;
            }
            make_dir(o.out);
        }
        compare_run(&a, &b, &o);
        prof_free(&a);
        prof_free(&b);
        return 0;
    }
    usage(stderr);
    return 2;
}
