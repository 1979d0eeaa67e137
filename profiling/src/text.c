/* text.c - the report for a terminal: summary, table 1 (hot pages), table 2 (who/where). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "prof.h"

#define MAX_ROWS_PER_PAGE 10
#define PAGE_SYMS 16

static void fmt_time(uint64_t ns, char *buf, size_t len)
{
    if (ns >= 1000000) {
        snprintf(buf, len, "%.2f ms", ns / 1e6);
    } else {
        snprintf(buf, len, "%.0f us", ns / 1e3);
    }
}

static double pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

/* Comma-separated symbol names of the page, or "-". */
void page_symbols(const struct prof *p, uint64_t gpn, char *buf, size_t len)
{
    const char *names[PAGE_SYMS];
    size_t n = p->have_kmap ? kmap_page_symbols(&p->kmap, gpn, names, PAGE_SYMS) : 0;
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", names[i]);
    }
    if (n == 0) {
        snprintf(buf, len, "-");
    }
}

void access_data_name(const struct prof *p, uint64_t gpn, uint16_t off, char *buf, size_t len)
{
    if (p->have_kmap) {
        kmap_data_name(&p->kmap, gpn * PROF_PAGE_SIZE + off, buf, len);
    } else {
        snprintf(buf, len, "-");
    }
}

static uint64_t total_faults(const struct prof *p)
{
    uint64_t s = 0;
    for (int i = 0; i < p->nodes; i++) {
        s += p->node[i].faults;
    }
    return s;
}

static void summary(const struct prof *p, FILE *f)
{
    char a[32], b[32], c[32], d[32], e[32], w[32];
    uint64_t total = total_faults(p), remote = 0, local = 0, unres = 0, recv = 0, inv = 0;
    uint64_t reads = 0, code = 0, once = 0, top10 = 0;
    for (int i = 0; i < p->nodes; i++) {
        remote += p->node[i].remote;
        local += p->node[i].local;
        unres += p->node[i].unresolved;
        recv += p->node[i].received;
        inv += p->node[i].invals;
        reads += p->node[i].reads;
        code += p->node[i].code_known;
    }
    for (size_t i = 0; i < p->npages; i++) {
        once += p->pages[i].faults == 1;
    }
    size_t *order;
    prof_sort_pages((struct prof *)p, "faults", &order);
    for (size_t i = 0; i < p->npages && i < 10; i++) {
        top10 += p->pages[order[i]].faults;
    }
    free(order);
    fprintf(f, "Summary (%d nodes, %s, %.1f s of faults)\n", p->nodes, p->accel,
            (double)(p->t1 - p->t0) / 1e9);
    fprintf(f, "  faults      %s: remote %s, local %s, unresolved %s; read %s, write %s\n",
            fmt_count(total, a, sizeof(a)), fmt_count(remote, b, sizeof(b)),
            fmt_count(local, c, sizeof(c)), fmt_count(unres, d, sizeof(d)),
            fmt_count(reads, e, sizeof(e)), fmt_count(total - reads, w, sizeof(w)));
    fprintf(f, "  pages       %s distinct; %.1f %% fault once; the 10 hottest take %.1f %%\n",
            fmt_count(p->npages, a, sizeof(a)), pct(once, p->npages), pct(top10, total));
    fprintf(f, "  moved       %.1f MiB in %s page transfers%s; %s invalidations\n",
            (double)recv * PROF_PAGE_SIZE / 1048576.0, fmt_count(recv, a, sizeof(a)),
            p->windowed ? " (whole run)" : "", fmt_count(inv, b, sizeof(b)));
    const double q[] = { 0.5, 0.9, 0.99, 1.0 };
    uint64_t l[4];
    prof_latency_percentiles(p, q, l, 4);
    fmt_time(l[0], a, sizeof(a));
    fmt_time(l[1], b, sizeof(b));
    fmt_time(l[2], c, sizeof(c));
    fmt_time(l[3], d, sizeof(d));
    fprintf(f, "  latency     p50 %s, p90 %s, p99 %s, max %s\n", a, b, c, d);
    fprintf(f, "  code known  %.1f %% of faults (guest code, or the QEMU/host function)\n",
            pct(code, total));
    fprintf(f, "  classes    ");
    int col = 13;
    for (int i = 0; i < CLS_COUNT; i++) {
        char cell[64];
        int n = snprintf(cell, sizeof(cell), " %s %.1f %%%s", prof_class_names[i],
                         pct(p->class_count[i], total), i + 1 < CLS_COUNT ? "," : "");
        if (col + n > 99) {
            fprintf(f, "\n             ");
            col = 13;
        }
        fputs(cell, f);
        col += n;
    }
    fputc('\n', f);
    for (int i = 0; i < p->nodes; i++) {
        const struct prof_node_totals *t = &p->node[i];
        fprintf(f, "  node %-2d     %s faults (read %s, write %s), %s invalidations, %s pages in\n",
                i, fmt_count(t->faults, a, sizeof(a)), fmt_count(t->reads, b, sizeof(b)),
                fmt_count(t->writes, c, sizeof(c)), fmt_count(t->invals, d, sizeof(d)),
                fmt_count(t->received, e, sizeof(e)));
    }
}

static void table1(const struct prof *p, const struct prof_opts *o, const size_t *order, FILE *f)
{
    char a[32], b[32], c[32], rw[128], inv[128], syms[512], cell[128];
    fprintf(f, "\nTable 1: hot pages by %s (--sort xwrite|faults|latency|inval)\n",
            strcmp(o->sort, "xwrite") == 0 ? "cross-node write faults" : o->sort);
    fprintf(f, "%3s %-9s %8s %7s %6s %-18s %-9s %6s %s\n", "#", "GPN", "faults", "xwrite",
            "owner", "read/write by node", "inval", "us", "symbols on the page");
    for (size_t r = 0; r < p->npages && (int)r < o->top; r++) {
        const struct prof_page *pg = &p->pages[order[r]];
        size_t ro = 0, io = 0;
        rw[0] = inv[0] = 0;
        for (int i = 0; i < p->nodes; i++) {
            ro += (size_t)snprintf(rw + ro, sizeof(rw) - ro, "%s%" PRIu64 "/%" PRIu64,
                                   i ? " " : "", pg->reads[i], pg->writes[i]);
            io += (size_t)snprintf(inv + io, sizeof(inv) - io, "%s%" PRIu64, i ? " " : "",
                                   pg->invals[i]);
            if (ro >= sizeof(rw) - 1 || io >= sizeof(inv) - 1) {
                break;
            }
        }
        page_symbols(p, pg->gpn, syms, sizeof(syms));
        char gpn[32], rwc[32], invc[16];   /* 74 columns before the symbols */
        snprintf(gpn, sizeof(gpn), "%#" PRIx64, pg->gpn);
        fit(rwc, rw, 18);
        fit(invc, inv, 9);
        fit(cell, syms, 99 - 74);
        fprintf(f, "%3zu %-9s %8s %7s %6s %-18s %-9s %6.0f %s\n", r + 1, gpn,
                fmt_count(pg->faults, a, sizeof(a)), fmt_count(pg->xwrites, b, sizeof(b)),
                fmt_count(pg->owner_changes, c, sizeof(c)), rwc, invc,
                pg->lat_count ? (double)pg->lat_sum_ns / (double)pg->lat_count / 1e3 : 0.0,
                cell);
    }
}

static void table2(const struct prof *p, const struct prof_opts *o, const size_t *order, FILE *f)
{
    char a[32], syms[512], data[256], code[256], dc[32], cc[40], hdr[128];   /* 96 columns */
    fprintf(f, "\nTable 2: who touches the hot pages where (node, read/write, offset -> data "
            "symbol, guest code)\n");
    for (size_t r = 0; r < p->npages && (int)r < o->detail; r++) {
        const struct prof_page *pg = &p->pages[order[r]];
        page_symbols(p, pg->gpn, syms, sizeof(syms));
        fit(hdr, syms, 50);
        fprintf(f, "\nPage %#" PRIx64 " (%s): %s faults, %s\n", pg->gpn, hdr,
                fmt_count(pg->faults, a, sizeof(a)), prof_verdict_names[pg->verdict]);
        fprintf(f, "  %-4s %-2s %-5s %-28s %-36s %7s %6s\n", "node", "rw", "off",
                "data symbol", "code symbol", "faults", "share");
        uint64_t shown = 0;
        size_t i;
        for (i = 0; i < pg->nacc && i < MAX_ROWS_PER_PAGE; i++) {
            const struct prof_access *x = &pg->acc[i];
            access_data_name(p, pg->gpn, x->off, data, sizeof(data));
            snprintf(code, sizeof(code), "%s", p->codes[x->code]);
            fit(dc, data, 28);
            fit(cc, code, 36);
            fprintf(f, "  n%-3d %-2s 0x%03x %-28s %-36s %7s %5.1f%%\n", x->node,
                    x->write ? "W" : "R", x->off, dc, cc, fmt_count(x->faults, a, sizeof(a)),
                    pct(x->faults, pg->faults));
            shown += x->faults;
        }
        if (i < pg->nacc) {
            fprintf(f, "  ... %zu more rows with %.1f %% of the page's faults\n", pg->nacc - i,
                    pct(pg->faults - shown, pg->faults));
        }
    }
}

void report_text(const struct prof *p, const struct prof_opts *o, const size_t *order, FILE *f)
{
    fprintf(f, "dsmvm-prof report: %s\n", p->dir);
    summary(p, f);
    table1(p, o, order, f);
    table2(p, o, order, f);
}
