/* plots.c - gnuplot input and scripts, rendered to SVG and PNG.
 *
 * faults-per-group: faults per MiB of guest-physical memory (256 pages), one series per run;
 * heatmap: the hottest pages (rows) over time (columns), faults per cell (first run only);
 * latency: fault latency histogram, log2 bins, one series per run.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "prof.h"

#define GROUP_PAGES 256
#define HEAT_ROWS 40
#define HEAT_COLS 60
#define LAT_BINS 32

/* Colours the HTML test looks for in the rendered page: keep them in sync. */
#define COLOR_A "#1f77b4"
#define COLOR_B "#d62728"

static FILE *open_out(const char *dir, const char *name)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        prof_die("cannot write %s", path);
    }
    return f;
}

static void groups_data(const struct prof *p, const char *dir, const char *name)
{
    FILE *f = open_out(dir, name);
    uint64_t cur = UINT64_MAX, sum = 0;
    for (size_t i = 0; i < p->npages; i++) {
        uint64_t g = p->pages[i].gpn / GROUP_PAGES;
        if (g != cur && cur != UINT64_MAX) {
            fprintf(f, "%" PRIu64 " %" PRIu64 "\n", cur, sum);
            sum = 0;
        }
        cur = g;
        sum += p->pages[i].faults;
    }
    if (cur != UINT64_MAX) {
        fprintf(f, "%" PRIu64 " %" PRIu64 "\n", cur, sum);
    }
    fclose(f);
}

static void latency_data(const struct prof *p, const char *dir, const char *name)
{
    uint64_t bins[LAT_BINS] = { 0 };
    for (size_t i = 0; i < p->nfaults; i++) {
        uint64_t us = p->faults[i].lat_ns / 1000;
        if (p->faults[i].inval || !p->faults[i].lat_ns) {
            continue;
        }
        int b = us ? 64 - __builtin_clzll(us) : 0;
        bins[b < LAT_BINS ? b : LAT_BINS - 1]++;
    }
    FILE *f = open_out(dir, name);
    for (int b = 0; b < LAT_BINS; b++) {
        fprintf(f, "%d %" PRIu64 "\n", b, bins[b]);
    }
    fclose(f);
}

/* Matrix rows = hottest pages by faults, columns = time bins. Returns rows written. */
static size_t heat_data(const struct prof *p, const char *dir)
{
    size_t *order;
    prof_sort_pages((struct prof *)p, "faults", &order);
    size_t rows = p->npages < HEAT_ROWS ? p->npages : HEAT_ROWS;
    uint64_t span = p->t1 > p->t0 ? p->t1 - p->t0 : 1;
    FILE *f = open_out(dir, "heatmap.dat");
    FILE *labels = open_out(dir, "heatmap-labels.gp");
    static uint64_t cell[HEAT_ROWS][HEAT_COLS];
    memset(cell, 0, sizeof(cell));
    for (size_t r = 0; r < rows; r++) {
        uint64_t gpn = p->pages[order[r]].gpn;
        /* Faults are sorted by page: find this page's run. */
        size_t lo = 0, hi = p->nfaults;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (p->faults[mid].gpn < gpn) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for (size_t i = lo; i < p->nfaults && p->faults[i].gpn == gpn; i++) {
            if (!p->faults[i].inval) {
                uint64_t c = (p->faults[i].t_ns - p->t0) * HEAT_COLS / (span + 1);
                cell[r][c]++;
            }
        }
        char syms[256], lab[40];
        page_symbols(p, gpn, syms, sizeof(syms));
        syms[strcspn(syms, ",")] = 0;
        snprintf(lab, sizeof(lab), "%#" PRIx64 " %.20s", gpn, syms);
        for (char *c = lab; *c; c++) {
            if (*c == '"' || *c == '\\' || *c == '_') {
                *c = *c == '_' ? '-' : ' ';
            }
        }
        fprintf(labels, "%s\"%s\" %zu", r ? ", " : "set ytics (", lab, r);
    }
    fprintf(labels, rows ? ") font \",7\"\n" : "\n");
    for (size_t r = 0; r < rows; r++) {
        for (int c = 0; c < HEAT_COLS; c++) {
            fprintf(f, "%s%" PRIu64, c ? " " : "", cell[r][c]);
        }
        fputc('\n', f);
    }
    fclose(f);
    fclose(labels);
    free(order);
    return rows;
}

static int run_gnuplot(const char *dir, const char *script)
{
    char *cmd;
    if (asprintf(&cmd, "cd '%s' && gnuplot '%s' 2> gnuplot.err", dir, script) < 0) {
        prof_die("out of memory");
    }
    int rc = system(cmd);
    free(cmd);
    if (rc != 0) {
        prof_die("gnuplot failed on %s/%s (see %s/gnuplot.err; is gnuplot-nox installed?)",
                 dir, script, dir);
    }
    return 0;
}

/* Every plot in both formats: the script is run once per terminal. */
static void write_script(const char *dir, const char *name, const char *body, int width,
                         int height)
{
    FILE *f = open_out(dir, name);
    const char *base = strndup(name, strcspn(name, "."));
    fprintf(f, "do for [fmt in \"svg png\"] {\n"
            "  if (fmt eq \"svg\") { set terminal svg size %d,%d dynamic font \"sans,10\" "
            "background \"white\" } else { set terminal pngcairo size %d,%d font \"sans,9\" }\n"
            "  set output \"%s.\".fmt\n%s\n  unset output\n}\n",
            width, height, width, height, base, body);
    fclose(f);
    free((void *)base);
}

int plots_write(const struct prof *a, const struct prof *b, const char *dir,
                const struct prof_opts *o)
{
    char body[4096];
    prof_progress(o, "plotting into %s ...", dir);
    groups_data(a, dir, "groups-a.dat");
    latency_data(a, dir, "latency-a.dat");
    if (b) {
        groups_data(b, dir, "groups-b.dat");
        latency_data(b, dir, "latency-b.dat");
    }
    snprintf(body, sizeof(body),
             "  set title \"DSM faults per MiB of guest-physical memory\"\n"
             "  set xlabel \"guest-physical address (MiB)\"\n  set ylabel \"faults\"\n"
             "  set logscale y\n  set yrange [0.8:*]\n  set grid ytics\n"
             "  set style fill solid 0.6 noborder\n  set boxwidth 0.9 relative\n"
             "  plot \"groups-a.dat\" using 1:2 with boxes lc rgb \"" COLOR_A "\" title \"%s\"%s\n",
             b ? "A" : "faults",
             b ? ", \"groups-b.dat\" using 1:2 with boxes lc rgb \"" COLOR_B "\" title \"B\"" : "");
    write_script(dir, "faults-per-group.gp", body, 900, 380);
    run_gnuplot(dir, "faults-per-group.gp");

    snprintf(body, sizeof(body),
             "  set title \"Fault latency\"\n  set xlabel \"latency (log2 bins)\"\n"
             "  set ylabel \"faults\"\n  set logscale y\n  set yrange [0.8:*]\n  set grid ytics\n"
             "  set xtics (\"1us\" 1, \"4us\" 3, \"16us\" 5, \"64us\" 7, \"256us\" 9, \"1ms\" 11, "
             "\"4ms\" 13, \"16ms\" 15, \"64ms\" 17, \"256ms\" 19, \"1s\" 21)\n"
             "  set xrange [-0.5:22]\n  set style fill solid 0.6 noborder\n"
             "  set boxwidth %s\n"
             "  plot \"latency-a.dat\" using ($1%s):2 with boxes lc rgb \"" COLOR_A "\" "
             "title \"%s\"%s\n",
             b ? "0.4" : "0.9", b ? "-0.2" : "", b ? "A" : "faults",
             b ? ", \"latency-b.dat\" using ($1+0.2):2 with boxes lc rgb \"" COLOR_B "\" "
                 "title \"B\"" : "");
    write_script(dir, "latency.gp", body, 900, 340);
    run_gnuplot(dir, "latency.gp");

    if (heat_data(a, dir) > 0) {
        snprintf(body, sizeof(body),
                 "  set title \"Faults of the hottest pages over time\"\n"
                 "  set xlabel \"time (%% of the run)\"\n  load \"heatmap-labels.gp\"\n"
                 "  set xrange [-0.5:%d.5]\n  set yrange [-0.5:*] reverse\n"
                 "  set xtics (\"0\" 0, \"25\" %d, \"50\" %d, \"75\" %d, \"100\" %d)\n"
                 "  set palette defined (0 \"white\", 1 \"" COLOR_A "\", 2 \"#08306b\")\n"
                 "  set cbrange [0:*]\n  set cblabel \"faults\"\n"
                 "  plot \"heatmap.dat\" matrix with image notitle\n",
                 HEAT_COLS - 1, HEAT_COLS / 4, HEAT_COLS / 2, 3 * HEAT_COLS / 4, HEAT_COLS - 1);
        write_script(dir, "heatmap.gp", body, 900, 560);
        run_gnuplot(dir, "heatmap.gp");
    }
    return 0;
}
