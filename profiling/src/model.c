/* model.c - faults of every node -> pages, access rows, classes and totals. */
#include <stdlib.h>
#include <string.h>

#include "prof.h"

const char *const prof_class_names[CLS_COUNT] = {
    "cold (zero page)", "first transfer", "read-shared", "producer (1 writer)",
    "migratory", "ping-pong", "false sharing",
};

const char *const prof_verdict_names[] = {
    "one node", "read-only sharing", "true sharing", "FALSE SHARING", "unknown (no offsets)",
};

static int by_page_time(const void *a, const void *b)
{
    const struct prof_fault *x = a, *y = b;
    if (x->gpn != y->gpn) {
        return x->gpn < y->gpn ? -1 : 1;
    }
    return x->t_ns < y->t_ns ? -1 : x->t_ns > y->t_ns;
}

static int by_access(const void *a, const void *b)
{
    const struct prof_access *x = a, *y = b;
    if (x->node != y->node) {
        return x->node - y->node;
    }
    if (x->write != y->write) {
        return x->write - y->write;
    }
    if (x->off != y->off) {
        return x->off - y->off;
    }
    return x->code < y->code ? -1 : x->code > y->code;
}

static int by_faults_desc(const void *a, const void *b)
{
    const struct prof_access *x = a, *y = b;
    return x->faults < y->faults ? 1 : x->faults > y->faults ? -1 : by_access(a, b);
}

/* Lines each node touched and wrote: disjoint writers' lines mean false sharing. */
static enum prof_verdict page_verdict(const struct prof_fault *f, size_t n, int nodes)
{
    uint64_t touched[PROF_MAX_NODES], written[PROF_MAX_NODES];   /* 64 lines per page */
    uint64_t who = 0, writers = 0;
    int exact = 1;
    memset(touched, 0, sizeof(uint64_t) * nodes);
    memset(written, 0, sizeof(uint64_t) * nodes);
    for (size_t i = 0; i < n; i++) {
        if (f[i].inval) {
            continue;
        }
        uint64_t line = 1ull << (f[i].off / PROF_LINE_SIZE);
        touched[f[i].node] |= line;
        who |= 1ull << f[i].node;
        if (f[i].write) {
            written[f[i].node] |= line;
            writers |= 1ull << f[i].node;
        }
        exact &= f[i].exact;
    }
    if (__builtin_popcountll(who) < 2) {
        return V_ONE_NODE;
    }
    if (!writers) {
        return V_READ_ONLY;
    }
    if (!exact) {
        return V_UNKNOWN;
    }
    for (int a = 0; a < nodes; a++) {
        for (int b = 0; b < nodes; b++) {
            if (a != b && (written[a] & touched[b])) {
                return V_TRUE_SHARING;
            }
        }
    }
    return V_FALSE_SHARING;
}

static void build_page(struct prof *p, struct prof_page *pg, struct prof_fault *f, size_t n)
{
    int last_writer = -1;
    uint64_t seen = 0, writers = 0;
    int last_was_read[PROF_MAX_NODES];
    size_t nacc = 0;

    memset(last_was_read, 0, sizeof(last_was_read));
    pg->gpn = f[0].gpn;
    pg->first_t = f[0].t_ns;
    pg->verdict = page_verdict(f, n, p->nodes);
    for (size_t i = 0; i < n; i++) {
        if (!f[i].inval && f[i].write) {
            writers |= 1ull << f[i].node;
        }
    }
    int multi_writer = __builtin_popcountll(writers) >= 2;
    pg->acc = calloc(n, sizeof(*pg->acc));
    if (!pg->acc) {
        prof_die("out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct prof_fault *x = &f[i];
        int nd = x->node;
        if (x->inval) {
            pg->invals[nd]++;
            continue;
        }
        pg->faults++;
        pg->last_t = x->t_ns;
        if (x->write) {
            pg->writes[nd]++;
        } else {
            pg->reads[nd]++;
        }
        if (x->lat_ns) {
            pg->lat_sum_ns += x->lat_ns;
            pg->lat_count++;
        }
        if (x->how == HOW_DATA) {
            pg->transfers++;
        }
        if (x->write && last_writer >= 0 && last_writer != nd) {
            pg->xwrites++;
        }
        if (x->how == HOW_ZERO) {
            x->cls = CLS_COLD;
        } else if (!(seen & (1ull << nd))) {
            x->cls = CLS_FIRST;
        } else if (multi_writer) {
            x->cls = pg->verdict == V_FALSE_SHARING ? CLS_FALSE_SHARING : CLS_PING_PONG;
        } else if (!x->write) {
            x->cls = CLS_READ_SHARED;
        } else if (last_was_read[nd]) {
            x->cls = CLS_MIGRATORY;
        } else {
            x->cls = CLS_PRODUCER;
        }
        seen |= 1ull << nd;
        last_was_read[nd] = !x->write;
        if (x->write) {
            if (last_writer >= 0 && last_writer != nd) {
                pg->owner_changes++;
            }
            last_writer = nd;
        }
        p->class_count[x->cls]++;
        pg->acc[nacc++] = (struct prof_access){ .node = x->node, .write = x->write,
                                                .off = x->off, .code = x->code, .faults = 1 };
    }
    /* Merge identical (node, write, offset, code) rows, then order by weight. */
    qsort(pg->acc, nacc, sizeof(*pg->acc), by_access);
    size_t m = 0;
    for (size_t i = 0; i < nacc; i++) {
        if (m && by_access(&pg->acc[m - 1], &pg->acc[i]) == 0) {
            pg->acc[m - 1].faults++;
        } else {
            pg->acc[m++] = pg->acc[i];
        }
    }
    qsort(pg->acc, m, sizeof(*pg->acc), by_faults_desc);
    pg->nacc = m;
}

void prof_build(struct prof *p)
{
    qsort(p->faults, p->nfaults, sizeof(*p->faults), by_page_time);
    p->pages = calloc(p->nfaults ? p->nfaults : 1, sizeof(*p->pages));
    if (!p->pages) {
        prof_die("out of memory");
    }
    p->t0 = UINT64_MAX;
    for (size_t i = 0; i < p->nfaults;) {
        size_t j = i;
        while (j < p->nfaults && p->faults[j].gpn == p->faults[i].gpn) {
            j++;
        }
        struct prof_page *pg = &p->pages[p->npages];
        build_page(p, pg, p->faults + i, j - i);
        if (pg->faults) {
            p->npages++;    /* pages only invalidated, never faulted, are not listed */
        } else {
            free(pg->acc);
            memset(pg, 0, sizeof(*pg));
        }
        i = j;
    }
    for (size_t i = 0; i < p->nfaults; i++) {
        const struct prof_fault *f = &p->faults[i];
        struct prof_node_totals *t = &p->node[f->node];
        if (f->inval) {
            continue;
        }
        t->faults++;
        if (f->write) {
            t->writes++;
        } else {
            t->reads++;
        }
        if (f->how == HOW_NONE) {
            t->unresolved++;
        } else if (f->from == f->node) {
            t->local++;
        } else {
            t->remote++;
        }
        t->code_known += f->code != PROF_NO_CODE;
        p->t0 = f->t_ns < p->t0 ? f->t_ns : p->t0;
        p->t1 = f->t_ns > p->t1 ? f->t_ns : p->t1;
    }
}

static const char *sort_key;

static uint64_t key_of(const struct prof_page *pg)
{
    if (strcmp(sort_key, "faults") == 0) {
        return pg->faults;
    }
    if (strcmp(sort_key, "latency") == 0) {
        return pg->lat_sum_ns;      /* total time spent waiting on the page */
    }
    if (strcmp(sort_key, "inval") == 0) {
        uint64_t s = 0;
        for (int i = 0; i < PROF_MAX_NODES; i++) {
            s += pg->invals[i];
        }
        return s;
    }
    return pg->xwrites;
}

static const struct prof_page *sort_pages;

static int by_key(const void *a, const void *b)
{
    const struct prof_page *x = &sort_pages[*(const size_t *)a];
    const struct prof_page *y = &sort_pages[*(const size_t *)b];
    uint64_t kx = key_of(x), ky = key_of(y);
    if (kx != ky) {
        return kx < ky ? 1 : -1;
    }
    if (x->faults != y->faults) {
        return x->faults < y->faults ? 1 : -1;
    }
    return x->gpn < y->gpn ? -1 : 1;
}

int prof_sort_pages(struct prof *p, const char *key, size_t **order)
{
    static const char *const keys[] = { "xwrite", "faults", "latency", "inval" };
    int ok = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ok |= strcmp(key, keys[i]) == 0;
    }
    if (!ok) {
        return -1;
    }
    *order = malloc((p->npages ? p->npages : 1) * sizeof(**order));
    for (size_t i = 0; i < p->npages; i++) {
        (*order)[i] = i;
    }
    sort_key = key;
    sort_pages = p->pages;
    qsort(*order, p->npages, sizeof(**order), by_key);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void prof_latency_percentiles(const struct prof *p, const double *q, uint64_t *out, size_t n)
{
    uint64_t *l = malloc((p->nfaults ? p->nfaults : 1) * sizeof(*l));
    size_t m = 0;
    for (size_t i = 0; i < p->nfaults; i++) {
        if (!p->faults[i].inval && p->faults[i].lat_ns) {
            l[m++] = p->faults[i].lat_ns;
        }
    }
    qsort(l, m, sizeof(*l), cmp_u64);
    for (size_t i = 0; i < n; i++) {
        out[i] = m ? l[(size_t)(q[i] * (double)(m - 1) + 0.5)] : 0;
    }
    free(l);
}

void prof_free(struct prof *p)
{
    for (size_t i = 0; i < p->npages; i++) {
        free(p->pages[i].acc);
    }
    free(p->pages);
    free(p->faults);
    for (size_t i = 0; i < p->ncodes; i++) {
        free(p->codes[i]);
    }
    free(p->codes);
    free(p->code_table);
    if (p->have_kmap) {
        kmap_free(&p->kmap);
    }
}
