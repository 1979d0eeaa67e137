/* suggest.c - hot kernel variables that share their page with other data, in the format of
 * guest-kernel-patches/hot-symbols.list (the tuned kernel build gives each a page of its own;
 * it reads the first token of every line that is neither blank nor a '#' comment). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "prof.h"

#define WIDTH 100           /* every line fits a terminal, like the text report */
#define MAX_PAGE_SYMS 8192  /* more than a page can hold, aliases included */

struct cand {
    const struct ksym *s;
    uint64_t faults;        /* over the hot pages where it reached --min-share */
    uint64_t gpn, best;     /* the page with most of them, and how many there */
    const char *why;        /* NULL: listed; else why not (points into why_buf) */
    char why_buf[128];
};

static int in(uint64_t va, uint64_t lo, uint64_t hi)
{
    return lo && hi > lo && va >= lo && va < hi;
}

static int plain_name(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.", *s)) {
            return 0;
        }
    }
    return 1;
}

/* Linker-made boundaries: they name an address, not a variable the build could move. */
static int marker(const char *name)
{
    static const char *const names[] = {
        "_sdata", "_edata", "__bss_start", "__bss_stop", "__per_cpu_load", "_end", "_text",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return strncmp(name, "__start_", 8) == 0 || strncmp(name, "__stop_", 7) == 0 ||
           strncmp(name, "__end_", 6) == 0;
}

/* Size as the map shows it: up to the next symbol at a higher address. */
static uint64_t sym_size(const struct kmap *k, const struct ksym *s)
{
    const struct ksym *e = k->syms + k->n;
    for (const struct ksym *x = s + 1; x < e; x++) {
        if (x->va > s->va) {
            return x->va - s->va;
        }
    }
    return k->image_end > s->va ? k->image_end - s->va : 0;
}

/* Every other symbol with bytes in the page (the one running into it from below included):
 * not s, nor its aliases at the same address, nor section markers. */
static size_t neighbours(const struct kmap *k, const struct ksym *s, uint64_t gpn,
                         const struct ksym **out)
{
    uint64_t start = gpn * PROF_PAGE_SIZE + KERNEL_MAP_BASE, end = start + PROF_PAGE_SIZE;
    const struct ksym *x = kmap_lookup(k, start), *e = k->syms + k->n;
    size_t n = 0;
    if (!x) {
        return 0;
    }
    while (x > k->syms && x[-1].va == x->va) {
        x--;    /* the first of the aliases at that address */
    }
    for (; x < e && x->va < end && n < MAX_PAGE_SYMS; x++) {
        if (x->va != s->va && !marker(x->name)) {
            out[n++] = x;
        }
    }
    return n;
}

/* Static locals of different functions share a name (count.1): the build could not tell
 * which one is meant. */
static int unique(const struct kmap *k, const struct ksym *s)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n && n < 2; i++) {
        n += strcmp(k->syms[i].name, s->name) == 0;
    }
    return n == 1;
}

/* NULL when s may be listed, else why not (into buf). */
static const char *why_not(const struct kmap *k, const struct ksym *s, size_t others,
                           char *buf, size_t len)
{
    uint64_t size = sym_size(k, s);
    int have_data = k->sdata && k->edata > k->sdata, have_bss = k->bss_start && k->bss_stop;
    if (!strchr("dDbB", s->type)) {
        snprintf(buf, len, "type %c, not data or bss (d, D, b, B)", s->type);
    } else if (marker(s->name)) {
        snprintf(buf, len, "a section marker, not a variable");
    } else if (k->have_percpu &&
               (in(s->va, k->percpu_start, k->percpu_end) ||
                in(s->va, k->percpu_load, k->percpu_load + k->percpu_end - k->percpu_start))) {
        snprintf(buf, len, "per-CPU: every CPU has its own copy already");
    } else if ((have_data || have_bss) && !in(s->va, k->sdata, k->edata) &&
               !in(s->va, k->bss_start, k->bss_stop)) {
        snprintf(buf, len, "outside .data and .bss");
    } else if (size > PROF_PAGE_SIZE) {
        snprintf(buf, len, "%" PRIu64 " bytes, larger than a page", size);
    } else if (others == 0) {
        snprintf(buf, len, "already alone on its page");
    } else if (!plain_name(s->name)) {
        snprintf(buf, len, "name is not [A-Za-z0-9_.]+");
    } else if (!unique(k, s)) {
        snprintf(buf, len, "several variables have this name");
    } else {
        return NULL;
    }
    return buf;
}

/* Adds the symbols with at least --min-share of one hot page's faults to *c. */
static void page_candidates(const struct prof *p, const struct prof_opts *o,
                            const struct prof_page *pg, struct cand *c, size_t *nc,
                            int *no_image)
{
    struct cand *on = calloc(pg->nacc ? pg->nacc : 1, sizeof(*on));
    size_t n = 0;
    if (!on) {
        prof_die("out of memory");
    }
    for (size_t i = 0; i < pg->nacc; i++) {
        const struct prof_access *x = &pg->acc[i];
        const struct ksym *s = kmap_data_sym(&p->kmap, pg->gpn * PROF_PAGE_SIZE + x->off);
        size_t j = 0;
        if (!s) {
            continue;   /* outside the kernel image: slab, page tables, user memory */
        }
        while (j < n && on[j].s != s) {
            j++;
        }
        if (j == n) {
            on[n++] = (struct cand){ .s = s };
        }
        on[j].faults += x->faults;
    }
    *no_image += n == 0;
    for (size_t i = 0; i < n; i++) {
        if (100.0 * (double)on[i].faults < o->min_share * (double)pg->faults) {
            continue;
        }
        size_t j = 0;
        while (j < *nc && c[j].s != on[i].s) {
            j++;
        }
        if (j == *nc) {
            /* At most one new entry per access row of the page: c has room (see caller). */
            c[(*nc)++] = (struct cand){ .s = on[i].s };
        }
        c[j].faults += on[i].faults;
        if (on[i].faults > c[j].best) {
            c[j].best = on[i].faults;
            c[j].gpn = pg->gpn;
        }
    }
    free(on);
}

static int by_faults(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->faults != y->faults) {
        return x->faults < y->faults ? 1 : -1;
    }
    return strcmp(x->s->name, y->s->name);
}

/* "N symbols (a, b, ...)" in at most width columns. */
static void describe(const struct ksym **nb, size_t n, char *buf, size_t width)
{
    size_t o = (size_t)snprintf(buf, width + 1, "%zu symbol%s (", n, n == 1 ? "" : "s");
    size_t i;
    for (i = 0; i < n; i++) {
        size_t need = (i ? 2 : 0) + strlen(nb[i]->name) + (i + 1 < n ? 6 : 1);   /* ", ...)" */
        if (o + need > width) {
            break;
        }
        o += (size_t)snprintf(buf + o, width + 1 - o, "%s%s", i ? ", " : "", nb[i]->name);
    }
    if (i < n && o + (i ? 6 : 4) <= width) {
        snprintf(buf + o, width + 1 - o, "%s...)", i ? ", " : "");
    } else if (i == n) {
        snprintf(buf + o, width + 1 - o, ")");
    } else {
        snprintf(buf, width + 1, "%zu symbol%s", n, n == 1 ? "" : "s");
    }
}

static void header(const struct prof *p, const struct prof_opts *o, FILE *f)
{
    char cmd[4400], sha[64];
    int n = snprintf(cmd, sizeof(cmd), "# generated by: dsmvm-prof suggest %s --top %d", p->dir,
                     o->top);
    if (o->min_share != 10) {
        n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " --min-share %g", o->min_share);
    }
    if (o->window && o->window_to >= 0) {
        n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " --window %g:%g", o->window_from,
                      o->window_to);
    } else if (o->window) {
        n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " --window %g", o->window_from);
    }
    snprintf(sha, sizeof(sha), "(System.map sha256 %.12s...)", p->kmap.sha256);
    fprintf(f, "# hot-symbols.list: guest kernel variables given a page of their own in the "
            "tuned build\n");
    if (strlen(cmd) + 3 + strlen(sha) <= WIDTH) {
        fprintf(f, "%s   %s\n", cmd, sha);
    } else {
        fprintf(f, "%s\n#   %s\n", cmd, sha);     /* a long RUN_DIR: keep 100 columns */
    }
    fprintf(f, "%-29s %6s  %-7s  %s\n", "# symbol", "faults", "page", "shares its page with");
}

void suggest_symbols(const struct prof *p, const struct prof_opts *o, const size_t *order,
                     FILE *f)
{
    size_t npages = p->npages < (size_t)o->top ? p->npages : (size_t)o->top, room = 1, nc = 0;
    int no_image = 0, listed = 0;
    for (size_t r = 0; r < npages; r++) {
        room += p->pages[order[r]].nacc;
    }
    struct cand *c = calloc(room, sizeof(*c));
    const struct ksym **nb = malloc(MAX_PAGE_SYMS * sizeof(*nb));
    if (!c || !nb) {
        prof_die("out of memory");
    }
    for (size_t r = 0; r < npages; r++) {
        page_candidates(p, o, &p->pages[order[r]], c, &nc, &no_image);
    }
    qsort(c, nc, sizeof(*c), by_faults);
    header(p, o, f);

    char line[4096], desc[WIDTH + 1], gpn[32];
    for (size_t i = 0; i < nc; i++) {
        size_t others = neighbours(&p->kmap, c[i].s, c[i].gpn, nb);
        c[i].why = why_not(&p->kmap, c[i].s, others, c[i].why_buf, sizeof(c[i].why_buf));
        if (c[i].why) {
            continue;
        }
        snprintf(gpn, sizeof(gpn), "%#" PRIx64, c[i].gpn);
        int n = snprintf(line, sizeof(line), "%-29s %6" PRIu64 "  %-7s  ", c[i].s->name,
                         c[i].faults, gpn);
        describe(nb, others, desc, n < WIDTH - 10 ? (size_t)(WIDTH - n) : 10);
        fprintf(f, "%s%s\n", line, desc);
        listed++;
    }
    if (!listed) {
        fprintf(f, "# no symbol qualifies: no kernel variable with %g %% or more of the faults "
                "of one of\n#   the %zu hottest pages shares its page with other data\n",
                o->min_share, npages);
    }
    /* Why the other hot symbols are not listed: comments, ignored by the kernel build. */
    for (size_t i = 0; i < nc; i++) {
        if (!c[i].why) {
            continue;
        }
        char name[48];
        fit(name, c[i].s->name, 40);
        snprintf(line, sizeof(line), "# not listed: %s (%" PRIu64 " faults, page %#" PRIx64
                 "): %s", name, c[i].faults, c[i].gpn, c[i].why);
        fprintf(f, "%.*s\n", WIDTH, line);
    }
    if (no_image) {
        fprintf(f, "# %d of the %zu hottest pages lie outside the kernel image (slab, page "
                "tables, user memory)\n", no_image, npages);
    }
    free(nb);
    free(c);
}
