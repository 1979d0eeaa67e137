/* prof.h - dsmvm-prof: the profile of one run, built from every node's perf data. */
#ifndef DSMVM_PROF_H
#define DSMVM_PROF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROF_MAX_NODES 64
#define PROF_PAGE_SIZE 4096u
#define PROF_LINE_SIZE 64u          /* cache line, for the false-sharing verdict */
#define PROF_NO_CODE 0u             /* code id: no code address known */
#define KERNEL_MAP_BASE 0xffffffff80000000ull   /* x86-64 image: va = pa + this */

/* How a fault was resolved (the fault_end probe's `how`). */
enum prof_how { HOW_ZERO, HOW_DATA, HOW_UPGRADE, HOW_LOCAL, HOW_NONE };

/* Every fault falls in exactly one class. */
enum prof_class {
    CLS_COLD,           /* zero page: never written anywhere */
    CLS_FIRST,          /* first fault of this node on the page, data or upgrade */
    CLS_READ_SHARED,    /* read of a page others read or one node writes */
    CLS_PRODUCER,       /* the page's only writer writes again after others read */
    CLS_MIGRATORY,      /* write right after this node's own read */
    CLS_PING_PONG,      /* write or read on a page written by several nodes */
    CLS_FALSE_SHARING,  /* page written by several nodes at disjoint cache lines */
    CLS_COUNT
};

extern const char *const prof_class_names[CLS_COUNT];

struct prof_fault {
    uint64_t t_ns;          /* fault_start, host perf clock */
    uint64_t gpn;
    uint64_t lat_ns;        /* 0 when no fault_end was seen */
    uint32_t code;          /* interned code symbol, PROF_NO_CODE if unknown */
    uint16_t off;           /* in-page byte offset */
    uint8_t node, write, how, from, cls, exact;
    uint8_t inval;          /* 1: an invalidation of this node's copy, not a fault */
};

struct prof_access {        /* table 2 row */
    uint8_t node, write;
    uint16_t off;
    uint32_t code;
    uint64_t faults;
};

enum prof_verdict { V_ONE_NODE, V_READ_ONLY, V_TRUE_SHARING, V_FALSE_SHARING, V_UNKNOWN };
extern const char *const prof_verdict_names[];

struct prof_page {
    uint64_t gpn;
    uint64_t faults, xwrites, owner_changes, lat_sum_ns, lat_count;
    uint64_t reads[PROF_MAX_NODES], writes[PROF_MAX_NODES], invals[PROF_MAX_NODES];
    uint64_t transfers;
    uint64_t first_t, last_t;
    enum prof_verdict verdict;
    struct prof_access *acc;
    size_t nacc;
};

struct prof_node_totals {
    uint64_t faults, reads, writes, remote, local, unresolved, invals, received, sent, wu;
    uint64_t samples, code_known;
    uint64_t transfer_events;   /* page_sent/page_received/write_update samples seen */
};

/* Kernel symbols from System.map (no KASLR: va = pa + KERNEL_MAP_BASE in the image). */
struct ksym {
    uint64_t va;
    char type;
    char *name;
};

struct kmap {
    struct ksym *syms;      /* sorted by va */
    size_t n;
    uint64_t text_start, image_end;     /* _text, _end */
    uint64_t sdata, edata, bss_start, bss_stop;     /* 0: the map lacks the marker */
    /* Per-CPU section (usually zero-based, so its symbols are not in syms) and where its
     * initial copy lies in the image; have_percpu when both ends were in the map. */
    uint64_t percpu_start, percpu_end, percpu_load;
    int have_percpu;
    char sha256[65];
};

struct prof {
    char dir[4096];
    int nodes;
    char accel[16];
    uint64_t below_4g;      /* RAM below 4 GiB: RAM offset -> guest-physical */
    /* The DSM's regions (one per guest NUMA node) in RAM-offset order: where each starts. */
    uint64_t region_base[PROF_MAX_NODES];
    int nregions;
    struct prof_fault *faults;
    size_t nfaults, capfaults;
    struct prof_page *pages;    /* sorted by GPN */
    size_t npages;
    struct prof_node_totals node[PROF_MAX_NODES];
    uint64_t class_count[CLS_COUNT];
    uint64_t t0, t1;            /* first and last fault */
    char **codes;               /* interned code names, [0] = "?" */
    size_t ncodes, capcodes;
    uint32_t *code_table;       /* hash of codes: index or 0 */
    size_t code_tcap;
    struct kmap kmap;
    int have_kmap;
    int windowed;               /* --window: transfer totals still cover the whole run */
};

/* Options shared by report and compare. */
struct prof_opts {
    const char *system_map;     /* NULL: RUN_DIR/profile/System.map */
    const char *sort;           /* xwrite (default), faults, latency, inval */
    int top;                    /* rows of table 1 */
    int detail;                 /* pages in table 2 */
    const char *out;            /* output directory for plots and HTML */
    const char *symbol;         /* compare: the page of this symbol in both runs */
    double min_share;           /* suggest: percent of its page's faults a symbol needs */
    int json, html, plots, quiet;
    /* --window FROM[:TO]: seconds after each node's first fault; to < 0 means the end */
    double window_from, window_to;
    int window;
};

/* Error reporting: every failure is a message naming the problem, then exit 1. */
void prof_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void prof_progress(const struct prof_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* load.c: read RUN_DIR/profile (meta.json, nodeN.script, System.map) into p. */
void prof_load(struct prof *p, const char *run_dir, const struct prof_opts *o);
uint32_t prof_intern_code(struct prof *p, const char *name);

/* script.c: parse one node's perf script text into p. Returns 0 or -1 (err set). */
int prof_parse_script(struct prof *p, int node, FILE *f, char *err, size_t errlen);
/* Parses "vcpu N rip 0x... address 0x... error_code 0x..." (kvm:kvm_page_fault). */
int prof_parse_kvm_fault(const char *s, unsigned *vcpu, uint64_t *rip, uint64_t *gpa,
                         int *write);

/* kmap.c */
int kmap_load(struct kmap *k, const char *path, char *err, size_t errlen);
const struct ksym *kmap_lookup(const struct kmap *k, uint64_t va);
/* The symbol holding a guest-physical address in the kernel image, else NULL. */
const struct ksym *kmap_data_sym(const struct kmap *k, uint64_t gpa);
/* "sym+0xoff" for a guest-physical address in the kernel image, else "-". */
void kmap_data_name(const struct kmap *k, uint64_t gpa, char *buf, size_t len);
void kmap_code_name(const struct kmap *k, uint64_t va, char *buf, size_t len);
/* Names of the symbols on the page (up to max), comma separated. */
size_t kmap_page_symbols(const struct kmap *k, uint64_t gpn, const char **out, size_t max);
void kmap_free(struct kmap *k);
int sha256_file(const char *path, char hex[65]);

/* model.c: pages, classes, totals (after every node is loaded). */
void prof_build(struct prof *p);
int prof_sort_pages(struct prof *p, const char *key, size_t **order);
void prof_latency_percentiles(const struct prof *p, const double *q, uint64_t *out, size_t n);
void prof_free(struct prof *p);

/* text.c: names used by every output. */
void page_symbols(const struct prof *p, uint64_t gpn, char *buf, size_t len);
void access_data_name(const struct prof *p, uint64_t gpn, uint16_t off, char *buf, size_t len);

/* Output. */
void report_text(const struct prof *p, const struct prof_opts *o, const size_t *order, FILE *f);
void report_json(const struct prof *p, const struct prof_opts *o, const size_t *order, FILE *f);
int plots_write(const struct prof *a, const struct prof *b, const char *outdir,
                const struct prof_opts *o);
int report_html(const struct prof *p, const struct prof_opts *o, const size_t *order,
                const char *outdir);
int compare_run(const struct prof *a, const struct prof *b, const struct prof_opts *o);
/* suggest.c: hot kernel variables that share their page, as hot-symbols.list text. */
void suggest_symbols(const struct prof *p, const struct prof_opts *o, const size_t *order,
                     FILE *f);

/* Small helpers (util.c). */
const char *fmt_count(uint64_t v, char *buf, size_t len);
void fit(char *dst, const char *src, size_t width);
void html_escape(FILE *f, const char *s);
void json_string(FILE *f, const char *s);

#endif
