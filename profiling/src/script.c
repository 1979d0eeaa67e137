/* script.c - one node's `perf script` text -> faults with their code address.
 *
 * Lines come from `perf script --ns -F pid,tid,time,event,ip,sym,addr,trace`:
 *   PID/TID TIME: sdt_dsm:fault_end: ADDR (IP) arg1=R arg2=OFF arg3=W arg4=LAT arg5=HOW arg6=FROM
 *                 arg7=TID arg8=EXACT     (older recordings: a fault_start with R OFF W TID EXACT
 *                 before each fault_end with its first six arguments)
 *   PID/TID TIME: page-faults...: ADDR [IP SYM]      then, with call chains, "\tIP SYM" lines
 *   PID/TID TIME: kvm:kvm_page_fault: vcpu N rip 0x... address 0x... error_code 0x...
 * A DSM fault is seen twice: the faulting thread's page fault (data address, code address),
 * then the DSM's fault_end (or fault_start) on its fault thread naming that thread and the
 * same in-page offset. The latest page fault of the thread with that offset is the one (also for
 * a fault the kernel retries without a new sample).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "prof.h"

#define MAX_ARGS 8
#define TID_SLOTS 4096          /* open addressing; a QEMU has a few dozen threads */
#define OPEN_SLOTS (1u << 16)
#define THREAD_HISTORY 8

struct last_fault {             /* one host page fault of a thread */
    uint64_t t_ns;
    uint16_t off;
    uint8_t valid;
    uint32_t code;
    uint64_t gpa;               /* KVM: full guest-physical address, else 0 */
};

/* A thread's latest page faults.  A fault_end comes after the faulting thread was woken,
 * and the thread may have faulted again by then: the fault is matched with the latest page
 * fault before its start. */
struct thread_faults {
    uint32_t tid;
    uint8_t next;
    struct last_fault f[THREAD_HISTORY];
};

struct open_fault {             /* fault_start waiting for its fault_end */
    uint64_t gpn;
    size_t idx;
    uint8_t used;
};

struct parse_state {
    struct prof *p;
    int node;
    struct thread_faults tids[TID_SLOTS];
    struct open_fault *open;
    struct last_fault *pending_chain;   /* page fault whose call chain is being read */
    int chain_done;
};

static struct thread_faults *tid_slot(struct parse_state *s, uint32_t tid)
{
    uint32_t h = (tid * 2654435761u) % TID_SLOTS;
    for (uint32_t i = 0; i < TID_SLOTS; i++) {
        struct thread_faults *th = &s->tids[(h + i) % TID_SLOTS];
        if (th->tid == tid || th->tid == 0) {
            th->tid = tid;
            return th;
        }
    }
    return NULL;
}

/* A fresh entry for a new page fault of the thread at t_ns. */
static struct last_fault *new_fault(struct thread_faults *th, uint64_t t_ns)
{
    struct last_fault *lf = &th->f[th->next];
    th->next = (uint8_t)((th->next + 1) % THREAD_HISTORY);
    memset(lf, 0, sizeof(*lf));
    lf->valid = 1;
    lf->t_ns = t_ns;
    return lf;
}

/* The thread's latest page fault at or before t_ns, or NULL. */
static const struct last_fault *fault_before(const struct thread_faults *th, uint64_t t_ns)
{
    for (int i = 1; i <= THREAD_HISTORY; i++) {
        const struct last_fault *lf = &th->f[(th->next + THREAD_HISTORY - i) % THREAD_HISTORY];
        if (lf->valid && lf->t_ns <= t_ns) {
            return lf;
        }
    }
    return NULL;
}

static struct open_fault *open_slot(struct parse_state *s, uint64_t gpn, int insert)
{
    uint32_t h = (uint32_t)((gpn * 0x9E3779B97F4A7C15ull) >> 48) % OPEN_SLOTS;
    for (uint32_t i = 0; i < OPEN_SLOTS; i++) {
        struct open_fault *o = &s->open[(h + i) % OPEN_SLOTS];
        if (o->used && o->gpn == gpn) {
            return o;
        }
        if (!o->used) {
            if (!insert) {
                return NULL;
            }
            o->used = 1;
            o->gpn = gpn;
            return o;
        }
    }
    return NULL;
}

static void open_remove(struct parse_state *s, struct open_fault *o)
{
    /* Backward-shift deletion keeps probe chains intact. */
    uint32_t i = (uint32_t)(o - s->open);
    o->used = 0;
    for (uint32_t j = (i + 1) % OPEN_SLOTS; s->open[j].used; j = (j + 1) % OPEN_SLOTS) {
        struct open_fault tmp = s->open[j];
        s->open[j].used = 0;
        struct open_fault *n = open_slot(s, tmp.gpn, 1);
        n->idx = tmp.idx;
    }
}

/* RAM offset of the DSM region -> guest-physical address (PC machine layout). */
static uint64_t gpa_of(const struct prof *p, uint64_t ram_off)
{
    return ram_off < p->below_4g ? ram_off : ram_off - p->below_4g + 0x100000000ull;
}

static int parse_args(const char *s, uint64_t *args)
{
    int n = 0;
    for (const char *a = strstr(s, " arg1="); a; a = strstr(a + 1, " arg")) {
        char *end;
        int i = (int)strtol(a + 4, &end, 10);
        if (*end != '=' || i < 1 || i > MAX_ARGS) {
            continue;
        }
        errno = 0;
        args[i - 1] = strtoull(end + 1, &end, 0);
        if (errno) {
            return -1;
        }
        n = i > n ? i : n;
    }
    return n;
}

int prof_parse_kvm_fault(const char *s, unsigned *vcpu, uint64_t *rip, uint64_t *gpa, int *write)
{
    const char *v = strstr(s, "vcpu ");
    unsigned long long r, a, e;
    if (!v || sscanf(v, "vcpu %u rip %llx address %llx error_code %llx", vcpu, &r, &a, &e) != 4) {
        return -1;
    }
    *rip = r;
    *gpa = a;
    *write = (e >> 1) & 1;      /* VMX exit qualification / #PF error code: bit 1 = write */
    return 0;
}

/* Code name for a host IP sample: a guest PC (perf-map name "guest-0x...") if any frame is
 * in translated code, else the first frame's host symbol. */
static uint32_t code_of_frame(struct prof *p, const char *sym, int *is_guest)
{
    char buf[256];
    const char *g = strstr(sym, "guest-0x");
    if (g) {
        uint64_t pc = strtoull(g + 6, NULL, 16);
        if (p->have_kmap) {
            kmap_code_name(&p->kmap, pc, buf, sizeof(buf));
        } else {
            snprintf(buf, sizeof(buf), "0x%" PRIx64, pc);
        }
        *is_guest = 1;
        return prof_intern_code(p, buf);
    }
    *is_guest = 0;
    size_t n = strcspn(sym, " \t\n(");
    if (n == 0 || strncmp(sym, "[unknown]", 9) == 0) {
        return PROF_NO_CODE;
    }
    snprintf(buf, sizeof(buf), "qemu:%.*s", (int)(n > 200 ? 200 : n), sym);
    return prof_intern_code(p, buf);
}

/* "  IP SYM" of a call-chain line or the tail of a sample line. */
static void take_frame(struct parse_state *s, const char *line)
{
    struct last_fault *lf = s->pending_chain;
    if (!lf || s->chain_done) {
        return;
    }
    char *end;
    strtoull(line, &end, 16);
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    int guest;
    uint32_t c = code_of_frame(s->p, end, &guest);
    if (guest) {
        lf->code = c;
        s->chain_done = 1;
    } else if (lf->code == PROF_NO_CODE) {
        lf->code = c;           /* innermost host frame until a guest frame shows up */
    }
}

/* The "IP SYM" after a sample's data address, when recorded without call chains:
 * "ADDR [ADDR_SYM] IP SYM" (perf names the data address when it can). */
static const char *inline_frame(const char *after_addr)
{
    const char *tok[3];
    int n = 0;
    for (const char *c = after_addr; n < 3;) {
        c += strspn(c, " \t");
        if (!*c || *c == '\n') {
            break;
        }
        tok[n++] = c;
        c += strcspn(c, " \t\n");
    }
    int first_is_ip = n >= 1 && strspn(tok[0], "0123456789abcdef") == strcspn(tok[0], " \t\n");
    if (n == 3 || (n == 2 && !first_is_ip)) {
        return n == 3 ? tok[1] : NULL;
    }
    return first_is_ip ? tok[0] : NULL;
}

/* A fault that started at t_ns; a[] = region, offset, is_write, tid, exact. */
static int add_fault(struct parse_state *s, const uint64_t *a, int nargs, uint64_t t_ns,
                     char *err, size_t len)
{
    struct prof *p = s->p;
    if (nargs < 3 || a[0] >= (uint64_t)p->nregions) {
        snprintf(err, len, "fault with %d arguments or region %" PRIu64
                 " (the run's guest RAM has %d)", nargs, nargs ? a[0] : 0, p->nregions);
        return -1;
    }
    if (p->nfaults == p->capfaults) {
        p->capfaults = p->capfaults ? p->capfaults * 2 : 65536;
        p->faults = realloc(p->faults, p->capfaults * sizeof(*p->faults));
        if (!p->faults) {
            prof_die("out of memory for %zu faults", p->capfaults);
        }
    }
    struct prof_fault *f = &p->faults[p->nfaults];
    memset(f, 0, sizeof(*f));
    f->node = (uint8_t)s->node;
    f->write = a[2] != 0;
    f->how = HOW_NONE;
    f->exact = nargs >= 5 && a[4];
    f->t_ns = t_ns;
    uint64_t gpa = gpa_of(p, p->region_base[a[0]] + a[1]);
    f->gpn = gpa / PROF_PAGE_SIZE;
    f->off = (uint16_t)(gpa % PROF_PAGE_SIZE);
    struct thread_faults *th = nargs >= 4 && a[3] ? tid_slot(s, (uint32_t)a[3]) : NULL;
    const struct last_fault *lf = th ? fault_before(th, t_ns) : NULL;
    if (lf && (!f->exact || lf->off == f->off ||
                            (lf->gpa && lf->gpa == gpa))) {
        f->code = lf->code;
        if (!f->exact) {
            f->off = lf->off;
        }
        /* Kept: a fault retried inside one kernel fault (page lost again before the thread
         * ran) reaches the DSM again without a new page-fault sample. */
    }
    struct open_fault *o = open_slot(s, f->gpn, 1);
    if (!o) {
        snprintf(err, len, "more than %u faults in flight", OPEN_SLOTS);
        return -1;
    }
    o->idx = p->nfaults++;
    return 0;
}

static int end_fault(struct parse_state *s, const uint64_t *a, int nargs, uint64_t t_ns,
                     char *err, size_t len)
{
    struct prof *p = s->p;
    if (nargs < 6) {
        snprintf(err, len, "fault_end with %d arguments (a QEMU older than the profiler?)", nargs);
        return -1;
    }
    if (a[0] >= (uint64_t)p->nregions) {
        snprintf(err, len, "fault_end in region %" PRIu64 " (the run's guest RAM has %d)",
                 a[0], p->nregions);
        return -1;
    }
    uint64_t gpn = gpa_of(p, p->region_base[a[0]] + a[1]) / PROF_PAGE_SIZE;
    struct open_fault *o = open_slot(s, gpn, 0);
    if (!o && nargs >= 8) {
        /* A recording of fault_end alone: it names the thread and byte itself. */
        const uint64_t start[5] = { a[0], a[1], a[2], a[6], a[7] };
        if (add_fault(s, start, 5, t_ns > a[3] ? t_ns - a[3] : 0, err, len) < 0) {
            return -1;
        }
        o = open_slot(s, gpn, 0);
    }
    if (!o) {
        return 0;   /* its start came before recording began */
    }
    struct prof_fault *f = &p->faults[o->idx];
    f->lat_ns = a[3];
    f->how = a[4] <= HOW_LOCAL ? (uint8_t)a[4] : HOW_NONE;
    if (a[5] >= (uint64_t)p->nodes) {
        snprintf(err, len, "fault_end names node %" PRIu64 " of %d", a[5], p->nodes);
        return -1;
    }
    f->from = (uint8_t)a[5];
    open_remove(s, o);
    return 0;
}

static int sample_line(struct parse_state *s, char *line, char *err, size_t len)
{
    struct prof *p = s->p;
    struct prof_node_totals *t = &p->node[s->node];
    unsigned pid, tid;
    char *ev, *rest;
    double secs;
    if (sscanf(line, " %u/%u %lf:", &pid, &tid, &secs) != 3 || !(ev = strchr(line, ':'))) {
        snprintf(err, len, "unexpected line: %.80s", line);
        return -1;
    }
    ev++;
    while (*ev == ' ') {
        ev++;
    }
    rest = strstr(ev, ": ");
    if (!rest) {
        rest = ev + strlen(ev);
    } else {
        *rest = 0;
        rest += 2;
    }
    uint64_t t_ns = (uint64_t)(secs * 1e9 + 0.5);
    s->pending_chain = NULL;
    t->samples++;
    if (strncmp(ev, "sdt_dsm:", 8) == 0) {
        uint64_t a[MAX_ARGS] = { 0 };
        int n = parse_args(rest - 1, a);
        const char *name = ev + 8;
        if (n < 0) {
            snprintf(err, len, "bad probe argument in: %.80s", rest);
            return -1;
        }
        if (strcmp(name, "fault_start") == 0) {
            if (add_fault(s, a, n, t_ns, err, len) < 0) {
                return -1;
            }
        } else if (strcmp(name, "fault_end") == 0) {
            return end_fault(s, a, n, t_ns, err, len);
        } else if (strcmp(name, "invalidation") == 0 && n >= 2) {
            t->invals++;
            /* Kept with the faults so that one sort by page and time orders both. */
            uint64_t gpn = gpa_of(p, a[0] * PROF_PAGE_SIZE) / PROF_PAGE_SIZE;
            if (p->nfaults == p->capfaults) {
                p->capfaults = p->capfaults ? p->capfaults * 2 : 65536;
                p->faults = realloc(p->faults, p->capfaults * sizeof(*p->faults));
                if (!p->faults) {
                    prof_die("out of memory");
                }
            }
            struct prof_fault *f = &p->faults[p->nfaults++];
            memset(f, 0, sizeof(*f));
            f->t_ns = t_ns;
            f->gpn = gpn;
            f->node = (uint8_t)s->node;
            f->how = HOW_NONE;
            f->inval = 1;
        } else if (strcmp(name, "page_sent") == 0) {
            t->sent++;
            t->transfer_events++;
        } else if (strcmp(name, "page_received") == 0) {
            t->received++;
            t->transfer_events++;
        } else if (strcmp(name, "write_update") == 0) {
            t->wu++;
            t->transfer_events++;
        }
        return 0;
    }
    if (strncmp(ev, "page-faults", 11) == 0) {
        char *end;
        uint64_t addr = strtoull(rest, &end, 16);
        struct thread_faults *th = tid_slot(s, tid);
        if (!th) {
            snprintf(err, len, "too many threads");
            return -1;
        }
        struct last_fault *lf = new_fault(th, t_ns);
        lf->off = (uint16_t)(addr % PROF_PAGE_SIZE);
        lf->code = PROF_NO_CODE;
        /* With call chains the frames follow on their own lines.  Without, the sample's
         * own "IP SYM" follows the data address and its symbol on this line. */
        s->pending_chain = lf;
        s->chain_done = 0;
        const char *ip = inline_frame(end);
        if (ip) {
            take_frame(s, ip);
        }
        return 0;
    }
    if (strncmp(ev, "kvm:kvm_page_fault", 18) == 0) {
        unsigned vcpu;
        uint64_t rip, gpa;
        int w;
        if (prof_parse_kvm_fault(rest, &vcpu, &rip, &gpa, &w) < 0) {
            snprintf(err, len, "kvm_page_fault without vcpu/rip/address/error_code: %.80s", rest);
            return -1;
        }
        struct thread_faults *th = tid_slot(s, tid);
        if (!th) {
            snprintf(err, len, "too many threads");
            return -1;
        }
        struct last_fault *lf = new_fault(th, t_ns);
        char buf[256];
        if (p->have_kmap) {
            kmap_code_name(&p->kmap, rip, buf, sizeof(buf));
        } else {
            snprintf(buf, sizeof(buf), "0x%" PRIx64, rip);
        }
        lf->off = (uint16_t)(gpa % PROF_PAGE_SIZE);
        lf->gpa = gpa;
        lf->code = prof_intern_code(p, buf);
        return 0;
    }
    return 0;   /* other events are not ours */
}

int prof_parse_script(struct prof *p, int node, FILE *f, char *err, size_t errlen)
{
    struct parse_state *s = calloc(1, sizeof(*s));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    unsigned long lineno = 0;
    int trailer = 0;

    if (!s || !(s->open = calloc(OPEN_SLOTS, sizeof(*s->open)))) {
        prof_die("out of memory");
    }
    s->p = p;
    s->node = node;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] == '\n') {
            line[--n] = 0;
        }
        if (strncmp(line, "# dsmvm-prof end", 16) == 0) {
            trailer = 1;
            continue;
        }
        if (n == 0 || line[0] == '#') {
            s->pending_chain = NULL;
            continue;
        }
        if (line[0] == '\t') {
            take_frame(s, line + 1);
            continue;
        }
        char e[200];
        if (sample_line(s, line, e, sizeof(e)) < 0) {
            snprintf(err, errlen, "line %lu: %s", lineno, e);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && !trailer) {
        snprintf(err, errlen, "ends without its trailer after %lu lines: the text is truncated "
                 "(delete it to have it made again from the perf data)", lineno);
        rc = -1;
    }
    free(line);
    free(s->open);
    free(s);
    return rc;
}
