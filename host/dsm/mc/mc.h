/* mc.h - exhaustive small-scope checker of the DSM protocol.
 *
 * A "world" is MC_NODES real DSM instances in one process, each with its
 * own userfaultfd-registered memory, no threads, and a fake transport that
 * appends every frame to a FIFO channel per (source, destination) pair,
 * as the real transports deliver in order per pair.  Each node runs a
 * short script of reads, writes and write-updates (on one or two vCPU
 * threads).  A step is either the delivery of the head of one channel
 * (dsm_deliver, as a receive thread would) or one step of one thread's
 * script (access the page if its state allows it, otherwise
 * dsm_handle_fault, as the fault thread would).
 * explore.c enumerates every order of steps; check.c asserts the
 * coherence properties after each step.
 */
#ifndef DSM_MC_H
#define DSM_MC_H

#include <stdint.h>

#include "dsm_internal.h"

#define MC_NODES 3
#define MC_PAGES 2
#define MC_MAX_OPS 6
#define MC_CHAN_MAX 24
#define MC_MAX_DEPTH 256
#define MC_THREADS 2       /* vCPU threads per node: "0W0" is thread a, "0bW0" thread b */

enum mc_kind { MC_READ = 'R', MC_WRITE = 'W', MC_WU = 'U' };

struct mc_op {
    uint8_t node, page, kind, thread;
    uint64_t value;        /* writes: unique per script; reads: what was read */
};

struct mc_script {
    int nops;
    struct mc_op ops[MC_MAX_OPS];   /* global order; each node runs its own in order */
};

enum mc_layout { MC_INTERLEAVED, MC_HOMED };

/* dsm_config.exclusive_reads of every instance (--exclusive-reads on|off; default on). */
extern unsigned mc_exclusive_reads;

/* Bugs injected by the fake transport, to show the checker catches them. */
enum mc_bug {
    MC_BUG_NONE,
    MC_BUG_EARLY_DONE,      /* manager's request ends when a third node sends the grant */
    MC_BUG_ACK_KEEPS_COPY,  /* a copy holder acknowledges INV but keeps its copy */
    MC_BUG_REORDER,         /* channels are not FIFO: any queued frame may arrive next */
};

struct mc_frame {
    struct dsm_msg_hdr h;
    uint64_t value;        /* first 8 payload bytes (the rest is checked to be zero) */
};

struct mc_chan {
    int head, len;
    struct mc_frame f[MC_CHAN_MAX];
};

enum mc_phase { MC_IDLE, MC_WAITING };

struct mc_thread {
    int pc;                /* index into the thread's ops */
    int nops;
    int op[MC_MAX_OPS];    /* indexes into the script */
    enum mc_phase phase;
};

struct mc_node {
    struct dsm *d;
    uint8_t *mem;          /* MC_PAGES pages */
    struct mc_thread t[MC_THREADS];
};

/* What reads may return: the writes to a page in the order they took
 * effect (plain writes when they complete, write-updates when their value
 * first appears in some node's memory). */
struct mc_hist {
    int n;
    uint64_t value[MC_MAX_OPS + 1];   /* [0] = 0, the initial zero page */
    int8_t op[MC_MAX_OPS + 1];        /* script op, -1 for the initial value */
};

/* A step: deliver channel src->dst, or run thread `thread` of node `node`. */
struct mc_step {
    int8_t deliver;        /* 1: delivery, 0: script step */
    int8_t src, dst, index;   /* delivery (index > 0 only with MC_BUG_REORDER) */
    int8_t node, thread;   /* script step */
};

struct mc_world {
    enum mc_layout layout;
    enum mc_bug bug;
    struct mc_script script;
    struct mc_node node[MC_NODES];
    struct mc_chan chan[MC_NODES][MC_NODES];
    struct mc_hist hist[MC_PAGES];
    uint8_t wu_active[MC_MAX_OPS];     /* write-update started, not completed */
    uint8_t wu_effective[MC_MAX_OPS];  /* its value is in hist */
    uint8_t swallow_done[MC_NODES][MC_PAGES];  /* MC_BUG_EARLY_DONE bookkeeping */
    char violation[512];               /* first violation seen, "" if none */
    char last_event[400];              /* what the last step did, for traces */
};

/* world.c */
int mc_world_init(struct mc_world *w, enum mc_layout layout, enum mc_bug bug,
                  const struct mc_script *s);   /* fresh instances; 0 or -1 */
void mc_world_fini(struct mc_world *w);
int mc_world_steps(const struct mc_world *w, struct mc_step *out);  /* enabled steps */
void mc_world_apply(struct mc_world *w, const struct mc_step *s);
void mc_violation(struct mc_world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int mc_home(const struct mc_world *w, int page);
int mc_op_allowed(const struct mc_world *w, int node, int page, int write);

/* scripts.c */
extern const char *const mc_suite[];   /* NULL-terminated */
int mc_parse_script(const char *text, struct mc_script *sc);   /* 0 or -1 (message printed) */
/* Next script of n operations over kinds and pages 0..npages-1; 0 after the last. */
int mc_next_script(struct mc_script *sc, int n, const char *kinds, int npages);

/* check.c */
void mc_check_step(struct mc_world *w);       /* after every step */
void mc_check_final(struct mc_world *w);      /* when no step is enabled */
void mc_note_write_updates(struct mc_world *w);   /* part of every step */
int mc_value_allowed(const struct mc_world *w, int page, uint64_t v);
int mc_mem_probe(struct mc_world *w, int node, int page, int *resident, int *wp);
uint64_t mc_hash(const struct mc_world *w);

#endif
