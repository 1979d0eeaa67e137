/* compare.c - two runs side by side: totals, classes, symbols, pages, overlaid plots. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "prof.h"

#define ROWS 15

void html_head(FILE *f, const char *title);
void html_plots(FILE *f, int heatmap);
void html_tail(FILE *f);

struct symcount {
    char *name;
    uint64_t a, b;
};

static int by_name(const void *x, const void *y)
{
    return strcmp(((const struct symcount *)x)->name, ((const struct symcount *)y)->name);
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

static int by_delta(const void *x, const void *y)
{
    const struct symcount *s = x, *t = y;
    uint64_t ds = absdiff(s->a, s->b), dt = absdiff(t->a, t->b);
    return ds < dt ? 1 : ds > dt ? -1 : strcmp(s->name, t->name);
}

/* Faults per data symbol (offset dropped) of both runs, merged by name. */
static struct symcount *symbol_deltas(const struct prof *a, const struct prof *b, size_t *count)
{
    size_t n = 0, cap = 0;
    struct symcount *v = NULL;
    const struct prof *runs[2] = { a, b };
    for (int r = 0; r < 2; r++) {
        const struct prof *p = runs[r];
        for (size_t i = 0; i < p->npages; i++) {
            const struct prof_page *pg = &p->pages[i];
            for (size_t j = 0; j < pg->nacc; j++) {
                char name[256];
                access_data_name(p, pg->gpn, pg->acc[j].off, name, sizeof(name));
                name[strcspn(name, "+")] = 0;
                if (n == cap) {
                    cap = cap ? cap * 2 : 4096;
                    v = realloc(v, cap * sizeof(*v));
                    if (!v) {
                        prof_die("out of memory");
                    }
                }
                v[n].name = strdup(name);
                v[n].a = r == 0 ? pg->acc[j].faults : 0;
                v[n].b = r == 1 ? pg->acc[j].faults : 0;
                n++;
            }
        }
    }
    qsort(v, n, sizeof(*v), by_name);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && strcmp(v[m - 1].name, v[i].name) == 0) {
            v[m - 1].a += v[i].a;
            v[m - 1].b += v[i].b;
            free(v[i].name);
        } else {
            v[m++] = v[i];
        }
    }
    qsort(v, m, sizeof(*v), by_delta);
    *count = m;
    return v;
}

static uint64_t total(const struct prof *p, size_t field)
{
    uint64_t s = 0;
    for (int i = 0; i < p->nodes; i++) {
        s += *(const uint64_t *)((const char *)&p->node[i] + field);
    }
    return s;
}

static const struct prof_page *find_page(const struct prof *p, uint64_t gpn)
{
    size_t lo = 0, hi = p->npages;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->pages[mid].gpn < gpn) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < p->npages && p->pages[lo].gpn == gpn ? &p->pages[lo] : NULL;
}

/* GPN of a kernel symbol, or -1 when the run has no such symbol. */
static int64_t symbol_gpn(const struct prof *p, const char *name)
{
    for (size_t i = 0; p->have_kmap && i < p->kmap.n; i++) {
        if (strcmp(p->kmap.syms[i].name, name) == 0) {
            return (int64_t)((p->kmap.syms[i].va - 0xffffffff80000000ull) / PROF_PAGE_SIZE);
        }
    }
    return -1;
}

struct row {
    const char *label;
    uint64_t a, b;
};

static void delta_cell(char *buf, size_t len, uint64_t a, uint64_t b)
{
    if (a == 0) {
        snprintf(buf, len, b ? "new" : "=");
    } else {
        snprintf(buf, len, "%+.1f %%", 100.0 * ((double)b - (double)a) / (double)a);
    }
}

static size_t summary_rows(const struct prof *a, const struct prof *b, struct row *r)
{
    size_t n = 0;
#define TOT(lbl, fld) r[n++] = (struct row){ lbl, total(a, offsetof(struct prof_node_totals, fld)), \
                                             total(b, offsetof(struct prof_node_totals, fld)) }
    TOT("faults", faults);
    TOT("  read", reads);
    TOT("  write", writes);
    TOT("  remote", remote);
    TOT("  local", local);
    TOT("pages received", received);
    TOT("invalidations", invals);
#undef TOT
    r[n++] = (struct row){ "distinct pages", a->npages, b->npages };
    for (int c = 0; c < CLS_COUNT; c++) {
        r[n++] = (struct row){ prof_class_names[c], a->class_count[c], b->class_count[c] };
    }
    const double q[] = { 0.5, 0.99 };
    uint64_t la[2], lb[2];
    prof_latency_percentiles(a, q, la, 2);
    prof_latency_percentiles(b, q, lb, 2);
    r[n++] = (struct row){ "latency p50 (us)", la[0] / 1000, lb[0] / 1000 };
    r[n++] = (struct row){ "latency p99 (us)", la[1] / 1000, lb[1] / 1000 };
    return n;
}

static int by_page_delta(const void *x, const void *y)
{
    const struct row *s = x, *t = y;
    uint64_t ds = absdiff(s->a, s->b), dt = absdiff(t->a, t->b);
    return ds < dt ? 1 : ds > dt ? -1 : 0;
}

/* Union of both runs' pages with their faults, biggest change first. */
static struct row *page_rows(const struct prof *a, const struct prof *b, size_t *count,
                             uint64_t **gpns)
{
    struct row *r = calloc(a->npages + b->npages + 1, sizeof(*r));
    *gpns = calloc(a->npages + b->npages + 1, sizeof(**gpns));
    size_t n = 0;
    for (size_t i = 0; i < a->npages; i++) {
        const struct prof_page *pb = find_page(b, a->pages[i].gpn);
        r[n].a = a->pages[i].faults;
        r[n].b = pb ? pb->faults : 0;
        r[n].label = (const char *)(uintptr_t)n;
        (*gpns)[n++] = a->pages[i].gpn;
    }
    for (size_t i = 0; i < b->npages; i++) {
        if (!find_page(a, b->pages[i].gpn)) {
            r[n].a = 0;
            r[n].b = b->pages[i].faults;
            r[n].label = (const char *)(uintptr_t)n;
            (*gpns)[n++] = b->pages[i].gpn;
        }
    }
    qsort(r, n, sizeof(*r), by_page_delta);
    *count = n;
    return r;
}

/* One item (" text") of a comma-separated list that wraps before column 100. */
static void list_item(FILE *f, int *col, int first, const char *item)
{
    int len = (int)strlen(item);
    if (!first) {
        fputc(',', f);
        (*col)++;
    }
    if (*col + len > 99) {
        fprintf(f, "\n ");
        *col = 1;
    }
    fputs(item, f);
    *col += len;
}

static void compare_text(const struct prof *a, const struct prof *b, const struct prof_opts *o,
                         const char *watch, FILE *f)
{
    char x[32], y[32], d[32], syms[256], cell[48];
    struct row r[32];
    size_t n = summary_rows(a, b, r);
    fprintf(f, "dsmvm-prof compare\n  A: %s\n  B: %s\n\n", a->dir, b->dir);
    fprintf(f, "%-24s %14s %14s %10s\n", "", "A", "B", "B vs A");
    for (size_t i = 0; i < n; i++) {
        delta_cell(d, sizeof(d), r[i].a, r[i].b);
        fprintf(f, "%-24s %14s %14s %10s\n", r[i].label, fmt_count(r[i].a, x, sizeof(x)),
                fmt_count(r[i].b, y, sizeof(y)), d);
    }

    int64_t ga = symbol_gpn(a, watch), gb = symbol_gpn(b, watch);
    const struct prof_page *pa = ga >= 0 ? find_page(a, (uint64_t)ga) : NULL;
    const struct prof_page *pb = gb >= 0 ? find_page(b, (uint64_t)gb) : NULL;
    fprintf(f, "\nThe page of %s (--symbol): A GPN %#" PRIx64 " %s faults, "
            "B GPN %#" PRIx64 " %s faults\n", watch, ga < 0 ? 0 : (uint64_t)ga,
            fmt_count(pa ? pa->faults : 0, x, sizeof(x)), gb < 0 ? 0 : (uint64_t)gb,
            fmt_count(pb ? pb->faults : 0, y, sizeof(y)));

    size_t ns;
    struct symcount *s = symbol_deltas(a, b, &ns);
    fprintf(f, "\nData symbols, biggest changes (faults; '-' = outside the kernel image)\n");
    fprintf(f, "%-40s %12s %12s %10s\n", "symbol", "A", "B", "B vs A");
    for (size_t i = 0; i < ns && i < (size_t)o->top; i++) {
        fit(cell, s[i].name, 40);
        delta_cell(d, sizeof(d), s[i].a, s[i].b);
        fprintf(f, "%-40s %12s %12s %10s\n", cell, fmt_count(s[i].a, x, sizeof(x)),
                fmt_count(s[i].b, y, sizeof(y)), d);
    }
    for (size_t i = 0; i < ns; i++) {
        free(s[i].name);
    }
    free(s);

    size_t np;
    uint64_t *gpns;
    struct row *pr = page_rows(a, b, &np, &gpns);
    fprintf(f, "\nPages, biggest changes (same GPN in both runs)\n");
    fprintf(f, "%-10s %10s %10s %10s  %s\n", "GPN", "A", "B", "B vs A", "symbols (A's kernel)");
    for (size_t i = 0; i < np && i < (size_t)o->top; i++) {
        uint64_t g = gpns[(uintptr_t)pr[i].label];
        page_symbols(a, g, syms, sizeof(syms));
        fit(cell, syms, 46);
        delta_cell(d, sizeof(d), pr[i].a, pr[i].b);
        fprintf(f, "%#-10" PRIx64 " %10s %10s %10s  %s\n", g, fmt_count(pr[i].a, x, sizeof(x)),
                fmt_count(pr[i].b, y, sizeof(y)), d, cell);
    }
    size_t gone = 0, appeared = 0;
    const char *head = "Hot pages of A that vanished in B (no faults):";
    int col = (int)strlen(head);
    fprintf(f, "\n%s", head);
    for (size_t i = 0; i < np; i++) {
        if (pr[i].b == 0 && pr[i].a >= 10 && gone < 8) {
            snprintf(cell, sizeof(cell), " %#" PRIx64 " (%s)", gpns[(uintptr_t)pr[i].label],
                     fmt_count(pr[i].a, x, sizeof(x)));
            list_item(f, &col, gone == 0, cell);
            gone++;
        }
    }
    head = "Hot pages of B that A did not have:";
    col = (int)strlen(head);
    fprintf(f, "%s\n%s", gone ? "" : " none", head);
    for (size_t i = 0; i < np; i++) {
        if (pr[i].a == 0 && pr[i].b >= 10 && appeared < 8) {
            snprintf(cell, sizeof(cell), " %#" PRIx64 " (%s)", gpns[(uintptr_t)pr[i].label],
                     fmt_count(pr[i].b, x, sizeof(x)));
            list_item(f, &col, appeared == 0, cell);
            appeared++;
        }
    }
    fprintf(f, "%s\n", appeared ? "" : " none");
    free(pr);
    free(gpns);
}

static void compare_json(const struct prof *a, const struct prof *b, const char *watch, FILE *f)
{
    struct row r[32];
    size_t n = summary_rows(a, b, r);
    fprintf(f, "{\n  \"a\": ");
    json_string(f, a->dir);
    fprintf(f, ", \"b\": ");
    json_string(f, b->dir);
    fprintf(f, ",\n  \"totals\": [");
    for (size_t i = 0; i < n; i++) {
        const char *l = r[i].label;
        while (*l == ' ') {
            l++;
        }
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        json_string(f, l);
        fprintf(f, ", \"a\": %" PRIu64 ", \"b\": %" PRIu64 "}", r[i].a, r[i].b);
    }
    int64_t ga = symbol_gpn(a, watch), gb = symbol_gpn(b, watch);
    const struct prof_page *pa = ga >= 0 ? find_page(a, (uint64_t)ga) : NULL;
    const struct prof_page *pb = gb >= 0 ? find_page(b, (uint64_t)gb) : NULL;
    fprintf(f, "\n  ],\n  \"watched\": {\"symbol\": ");
    json_string(f, watch);
    fprintf(f, ", \"a_gpn\": %" PRId64 ", \"a_faults\": %" PRIu64 ", \"b_gpn\": %" PRId64
            ", \"b_faults\": %" PRIu64 "},\n  \"symbols\": [", ga, pa ? pa->faults : 0, gb,
            pb ? pb->faults : 0);
    size_t ns;
    struct symcount *s = symbol_deltas(a, b, &ns);
    for (size_t i = 0; i < ns; i++) {
        fprintf(f, "%s\n    {\"symbol\": ", i ? "," : "");
        json_string(f, s[i].name);
        fprintf(f, ", \"a\": %" PRIu64 ", \"b\": %" PRIu64 "}", s[i].a, s[i].b);
        free(s[i].name);
    }
    free(s);
    fprintf(f, "\n  ]\n}\n");
}

int compare_run(const struct prof *a, const struct prof *b, const struct prof_opts *o)
{
    const char *watch = o->symbol;
    if (o->json) {
        compare_json(a, b, watch, stdout);
    } else {
        compare_text(a, b, o, watch, stdout);
    }
    if (!o->html) {
        return 0;
    }
    plots_write(a, b, o->out, o);
    char path[4400];
    snprintf(path, sizeof(path), "%s/compare.html", o->out);
    FILE *f = fopen(path, "w");
    if (!f) {
        prof_die("cannot write %s", path);
    }
    html_head(f, "dsmvm-prof compare");
    char *text;
    size_t len;
    FILE *m = open_memstream(&text, &len);
    compare_text(a, b, o, watch, m);
    fclose(m);
    fprintf(f, "<pre>");
    html_escape(f, text);
    fprintf(f, "</pre>\n<p>Plots: A in blue, B in red.</p>\n");
    free(text);
    html_plots(f, 0);
    html_tail(f);
    fclose(f);
    prof_progress(o, "HTML: %s", path);
    return 0;
}
