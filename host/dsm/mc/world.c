/* world.c - MC_NODES real DSM instances, FIFO channels, and the steps. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mc.h"

struct mc_transport {
    struct dsm_transport base;
    struct mc_world *w;
};

struct mc_log_ctx {
    struct mc_world *w;
    int node;
};

static uint8_t *node_mem[MC_NODES];     /* mapped once, re-registered per world */
static struct mc_log_ctx log_ctx[MC_NODES];

void mc_violation(struct mc_world *w, const char *fmt, ...)
{
    if (w->violation[0]) {
        return;   /* keep the first */
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->violation, sizeof(w->violation), fmt, ap);
    va_end(ap);
}

int mc_home(const struct mc_world *w, int page)
{
    return dsm_home_of(&w->node[0].d->homes, (uint64_t)page);
}

static void chan_push(struct mc_world *w, int src, int dst, const struct dsm_msg_hdr *h,
                      uint64_t value)
{
    struct mc_chan *c = &w->chan[src][dst];
    if (c->len == MC_CHAN_MAX) {
        mc_violation(w, "channel %d->%d overflows (%d frames)", src, dst, MC_CHAN_MAX);
        return;
    }
    struct mc_frame *f = &c->f[(c->head + c->len++) % MC_CHAN_MAX];
    f->h = *h;
    f->value = value;
}

static int fake_start(struct dsm_transport *t, char *err, size_t errlen)
{
    (void)t; (void)err; (void)errlen;
    return 0;
}

static int fake_send(struct dsm_transport *t, int dst, const struct dsm_msg_hdr *h,
                     const void *payload)
{
    struct mc_world *w = ((struct mc_transport *)t)->w;
    const uint8_t *pl = payload;
    uint64_t value = 0;
    int src = h->src;
    if (h->payload_len >= sizeof(value)) {
        memcpy(&value, pl, sizeof(value));
    }
    /* Only the first word of a page is ever written: anything else is corruption. */
    for (uint32_t i = sizeof(value); i < h->payload_len; i++) {
        if (pl[i]) {
            mc_violation(w, "%s %d->%d carries a nonzero byte at %u", dsm_msg_type_name(h->type),
                         src, dst, i);
            break;
        }
    }
    if (w->bug == MC_BUG_EARLY_DONE && h->page < MC_PAGES) {
        int p = (int)h->page, mgr = mc_home(w, p);
        if (h->type == DSM_MSG_PAGE && src != mgr && dst != mgr) {
            /* the request ends as the grant leaves the owner, not once installed */
            struct dsm_msg_hdr done;
            dsm_msg_init(&done, DSM_MSG_DONE, dst, h->page, 0, 0, 0);
            chan_push(w, dst, mgr, &done, 0);
            w->swallow_done[dst][p] = 1;
        } else if (h->type == DSM_MSG_DONE && w->swallow_done[src][p]) {
            w->swallow_done[src][p] = 0;
            return 0;
        }
    }
    chan_push(w, src, dst, h, value);
    return 0;
}

static void fake_stop(struct dsm_transport *t)
{
    (void)t;
}

static void fake_destroy(struct dsm_transport *t)
{
    free(t);
}

static const struct dsm_transport_ops fake_ops = {
    "mc", fake_start, fake_send, fake_stop, fake_destroy,
};

/* Any warning or error from the library is a protocol anomaly here. */
static void on_log(void *opaque, enum dsm_log_level lvl, const char *msg)
{
    struct mc_log_ctx *c = opaque;
    if (lvl <= DSM_LOG_WARN) {
        mc_violation(c->w, "node %d logged: %s", c->node, msg);
    }
}

static struct dsm *make_node(struct mc_world *w, int i, char *err, size_t errlen)
{
    struct dsm_config cfg;
    dsm_config_init(&cfg);
    cfg.node_id = i;
    cfg.num_nodes = MC_NODES;
    cfg.transport = DSM_TRANSPORT_SHM;
    cfg.shm_name = "unused";
    cfg.exclusive_reads = mc_exclusive_reads;
    log_ctx[i] = (struct mc_log_ctx){ w, i };
    struct dsm_callbacks cb = { .opaque = &log_ctx[i], .log = on_log };
    struct dsm *d = dsm_create(&cfg, &cb, err, errlen);
    if (!d) {
        return NULL;
    }
    int rc;
    if (w->layout == MC_INTERLEAVED) {
        rc = dsm_add_region(d, node_mem[i], MC_PAGES * DSM_PAGE_SIZE);
    } else {
        /* one page homed on node 0, the other on node MC_NODES - 1 */
        rc = dsm_add_region_home(d, node_mem[i], DSM_PAGE_SIZE, 0);
        if (rc == 0) {
            rc = dsm_add_region_home(d, node_mem[i] + DSM_PAGE_SIZE, DSM_PAGE_SIZE, MC_NODES - 1);
        }
    }
    if (rc < 0 || dsm_prepare(d, err, errlen) < 0) {
        if (rc < 0) {
            snprintf(err, errlen, "adding the regions failed: %s", strerror(-rc));
        }
        dsm_destroy(d);
        return NULL;
    }
    struct mc_transport *tr = calloc(1, sizeof(*tr));
    if (!tr) {
        dsm_destroy(d);
        return NULL;
    }
    tr->base.ops = &fake_ops;
    tr->w = w;
    d->tr = &tr->base;
    return d;
}

int mc_world_init(struct mc_world *w, enum mc_layout layout, enum mc_bug bug,
                  const struct mc_script *s)
{
    memset(w, 0, sizeof(*w));
    w->layout = layout;
    w->bug = bug;
    w->script = *s;
    for (int p = 0; p < MC_PAGES; p++) {
        w->hist[p].n = 1;
        w->hist[p].op[0] = -1;
    }
    for (int k = 0; k < s->nops; k++) {
        struct mc_thread *t = &w->node[s->ops[k].node].t[s->ops[k].thread];
        t->op[t->nops++] = k;
    }
    for (int i = 0; i < MC_NODES; i++) {
        if (!node_mem[i]) {
            node_mem[i] = mmap(NULL, MC_PAGES * DSM_PAGE_SIZE, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (node_mem[i] == MAP_FAILED) {
                node_mem[i] = NULL;
                return -1;
            }
        }
        char err[256];
        w->node[i].mem = node_mem[i];
        w->node[i].d = make_node(w, i, err, sizeof(err));
        if (!w->node[i].d) {
            fprintf(stderr, "dsm-mc: node %d: %s\n", i, err);
            mc_world_fini(w);
            return -1;
        }
    }
    return 0;
}

void mc_world_fini(struct mc_world *w)
{
    for (int i = 0; i < MC_NODES; i++) {
        dsm_destroy(w->node[i].d);
        w->node[i].d = NULL;
    }
}

int mc_op_allowed(const struct mc_world *w, int node, int page, int write)
{
    uint8_t st = w->node[node].d->pages[page].state;
    return write ? st == DSM_PS_MODIFIED : st != DSM_PS_INVALID;
}

static const struct mc_op *current_op(const struct mc_world *w, int i, int th)
{
    const struct mc_thread *t = &w->node[i].t[th];
    return t->pc < t->nops ? &w->script.ops[t->op[t->pc]] : NULL;
}

/* dsm_write_update() runs one at a time per node (wu_serial). */
static int wu_in_progress(const struct mc_world *w, int i)
{
    for (int th = 0; th < MC_THREADS; th++) {
        const struct mc_op *op = current_op(w, i, th);
        if (op && op->kind == MC_WU && w->node[i].t[th].phase == MC_WAITING) {
            return 1;
        }
    }
    return 0;
}

int mc_world_steps(const struct mc_world *w, struct mc_step *out)
{
    int k = 0;
    for (int s = 0; s < MC_NODES; s++) {
        for (int t = 0; t < MC_NODES; t++) {
            int n = w->bug == MC_BUG_REORDER ? w->chan[s][t].len : !!w->chan[s][t].len;
            for (int j = 0; j < n; j++) {
                out[k++] = (struct mc_step){ 1, (int8_t)s, (int8_t)t, (int8_t)j, -1, -1 };
            }
        }
    }
    for (int i = 0; i < MC_NODES; i++) {
        for (int th = 0; th < MC_THREADS; th++) {
            const struct mc_thread *t = &w->node[i].t[th];
            const struct mc_op *op = current_op(w, i, th);
            int enabled = 0;
            if (!op) {
                enabled = 0;
            } else if (t->phase == MC_IDLE) {
                enabled = op->kind != MC_WU || !wu_in_progress(w, i);
            } else if (op->kind != MC_WU) {
                /* waiting ops complete with the step that allows them (finish_waiting);
                 * one whose request ended without allowing it must fault again */
                enabled = !mc_op_allowed(w, i, op->page, op->kind == MC_WRITE) &&
                          !w->node[i].d->pages[op->page].pending;
            }
            if (enabled) {
                out[k++] = (struct mc_step){ 0, -1, -1, 0, (int8_t)i, (int8_t)th };
            }
        }
    }
    return k;
}

static void deliver(struct mc_world *w, int src, int dst, int index)
{
    static uint8_t payload[DSM_PAGE_SIZE];
    struct mc_chan *c = &w->chan[src][dst];
    struct mc_frame f = c->f[(c->head + index) % MC_CHAN_MAX];
    for (int j = index; j > 0; j--) {   /* close the gap (only when reordering) */
        c->f[(c->head + j) % MC_CHAN_MAX] = c->f[(c->head + j - 1) % MC_CHAN_MAX];
    }
    c->head = (c->head + 1) % MC_CHAN_MAX;
    c->len--;
    memset(payload, 0, sizeof(payload));
    if (f.h.payload_len >= sizeof(f.value)) {
        memcpy(payload, &f.value, sizeof(f.value));
    }
    snprintf(w->last_event, sizeof(w->last_event), "deliver %d->%d %-11s page %llu arg %llu "
             "flags 0x%02x", src, dst, dsm_msg_type_name(f.h.type),
             (unsigned long long)f.h.page, (unsigned long long)f.h.arg, f.h.flags);
    if (f.h.payload_len >= sizeof(f.value)) {
        size_t l = strlen(w->last_event);
        snprintf(w->last_event + l, sizeof(w->last_event) - l, " value %llu",
                 (unsigned long long)f.value);
    }
    if (w->bug == MC_BUG_ACK_KEEPS_COPY && f.h.type == DSM_MSG_INV) {
        struct dsm_msg_hdr ack;
        dsm_msg_init(&ack, DSM_MSG_INV_ACK, dst, f.h.page, 0, 0, 0);
        chan_push(w, dst, src, &ack, 0);
        return;
    }
    char err[256];
    if (dsm_deliver(w->node[dst].d, src, &f.h, payload, err, sizeof(err)) < 0) {
        mc_violation(w, "node %d rejected %s from %d: %s", dst, dsm_msg_type_name(f.h.type),
                     src, err);
    }
}

static void fault(struct mc_world *w, int i, int page, int write)
{
    struct dsm *d = w->node[i].d;
    pthread_mutex_lock(&d->lock);
    dsm_handle_fault(d, (uintptr_t)(w->node[i].mem + (size_t)page * DSM_PAGE_SIZE), write, 0);
    dsm_drain_local(d);
    pthread_mutex_unlock(&d->lock);
}

/* The page is present (and writable for a write): access it like a vCPU. */
static void access_page(struct mc_world *w, int i, struct mc_op *op)
{
    int resident, wp;
    volatile uint64_t *word = (volatile uint64_t *)(w->node[i].mem +
                                                    (size_t)op->page * DSM_PAGE_SIZE);
    if (mc_mem_probe(w, i, op->page, &resident, &wp) < 0) {
        return;
    }
    if (!resident || (op->kind == MC_WRITE && wp)) {
        /* would block forever: nobody serves faults here */
        mc_violation(w, "node %d page %d: state allows %s but the page is %s", i, op->page,
                     op->kind == MC_WRITE ? "a write" : "a read",
                     resident ? "write-protected" : "absent");
        return;
    }
    if (op->kind == MC_READ) {
        op->value = *word;
        if (!mc_value_allowed(w, op->page, op->value)) {
            mc_violation(w, "node %d read %llu from page %d, latest write is %llu", i,
                         (unsigned long long)op->value, op->page,
                         (unsigned long long)w->hist[op->page].value[w->hist[op->page].n - 1]);
        }
    } else {
        *word = op->value;
        struct mc_hist *h = &w->hist[op->page];
        h->value[h->n] = op->value;
        h->op[h->n++] = (int8_t)(op - w->script.ops);
    }
}

static void script_step(struct mc_world *w, int i, int th)
{
    struct mc_thread *n = &w->node[i].t[th];
    struct mc_op *op = &w->script.ops[n->op[n->pc]];
    int k = (int)(op - w->script.ops);
    struct dsm *d = w->node[i].d;
    if (op->kind == MC_WU) {
        if (n->phase == MC_IDLE) {
            pthread_mutex_lock(&d->lock);
            d->wu_done = 0;
            dsm_send(d, mc_home(w, op->page), DSM_MSG_WU_REQ, op->page, 0, 0, &op->value,
                     sizeof(op->value));
            dsm_drain_local(d);
            pthread_mutex_unlock(&d->lock);
            w->wu_active[k] = 1;
            n->phase = MC_WAITING;
            snprintf(w->last_event, sizeof(w->last_event), "node %d%s: write-update page %d "
                     "value %llu starts", i, th ? "b" : "", op->page, (unsigned long long)op->value);
            return;
        }
        if (!w->wu_effective[k]) {
            mc_violation(w, "node %d%s: write-update of %llu returned but no node holds it", i,
                         th ? "b" : "",
                         (unsigned long long)op->value);
        }
        w->wu_active[k] = 0;
        n->phase = MC_IDLE;
        n->pc++;
        snprintf(w->last_event, sizeof(w->last_event), "node %d%s: write-update page %d "
                 "value %llu returns", i, th ? "b" : "", op->page, (unsigned long long)op->value);
        return;
    }
    int write = op->kind == MC_WRITE;
    if (mc_op_allowed(w, i, op->page, write)) {
        access_page(w, i, op);
        n->phase = MC_IDLE;
        n->pc++;
        snprintf(w->last_event, sizeof(w->last_event), "node %d%s: %s page %d value %llu", i,
                 th ? "b" : "",
                 write ? "writes" : "reads", op->page, (unsigned long long)op->value);
        return;
    }
    snprintf(w->last_event, sizeof(w->last_event), "node %d%s: %s page %d faults (%s)", i,
             th ? "b" : "",
             write ? "write to" : "read of", op->page,
             n->phase == MC_IDLE ? "first access" : "again");
    n->phase = MC_WAITING;
    fault(w, i, op->page, write);
}

/* A waiting access completes as soon as its page state allows it (the
 * install wakes the vCPU, which retries), a write-update as soon as its
 * WU_DONE arrived. */
static void finish_waiting(struct mc_world *w, int i)
{
    for (int th = 0; th < MC_THREADS && !w->violation[0]; th++) {
        struct mc_thread *t = &w->node[i].t[th];
        if (t->phase != MC_WAITING) {
            continue;
        }
        const struct mc_op *op = &w->script.ops[t->op[t->pc]];
        if (op->kind == MC_WU ? !w->node[i].d->wu_done
                              : !mc_op_allowed(w, i, op->page, op->kind == MC_WRITE)) {
            continue;
        }
        char before[sizeof(w->last_event)];
        memcpy(before, w->last_event, sizeof(before));
        script_step(w, i, th);
        size_t l = strlen(before);
        if (l + 2 < sizeof(before)) {
            memcpy(before + l, "; ", 3);
            strncat(before, w->last_event, sizeof(before) - l - 3);
        }
        memcpy(w->last_event, before, sizeof(before));
    }
}

void mc_world_apply(struct mc_world *w, const struct mc_step *s)
{
    if (s->deliver) {
        deliver(w, s->src, s->dst, s->index);
        mc_note_write_updates(w);
        finish_waiting(w, s->dst);
    } else {
        script_step(w, s->node, s->thread);
        mc_note_write_updates(w);
        finish_waiting(w, s->node);
    }
}
