/* check.c - what must hold after every step and at the end of a path.
 *
 * The protocol state (dsm_page.state) is checked against the real page
 * tables (mincore: present; /proc/self/pagemap bit 57: uffd write-protected),
 * so a state that lies about the memory is caught too.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mc.h"

#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_UFFD_WP (1ull << 57)

static const char *state_name(int st)
{
    return st == DSM_PS_MODIFIED ? "Modified" : st == DSM_PS_EXCLUSIVE ? "Exclusive" :
           st == DSM_PS_SHARED ? "Shared" : "Invalid";
}

int mc_mem_probe(struct mc_world *w, int node, int page, int *resident, int *wp)
{
    static int pagemap = -1;
    uint8_t *a = w->node[node].mem + (size_t)page * DSM_PAGE_SIZE;
    unsigned char v;
    if (pagemap < 0) {
        pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    }
    uint64_t e;
    if (mincore(a, DSM_PAGE_SIZE, &v) < 0 || pagemap < 0 ||
        pread(pagemap, &e, sizeof(e), (off_t)((uintptr_t)a / DSM_PAGE_SIZE * sizeof(e))) !=
            (ssize_t)sizeof(e)) {
        mc_violation(w, "cannot inspect the memory of node %d page %d", node, page);
        return -1;
    }
    *resident = (v & 1) && (e & PAGEMAP_PRESENT);
    *wp = (e & PAGEMAP_UFFD_WP) != 0;
    return 0;
}

/* Reads return the latest write, except that while a write-update is in
 * progress (not yet returned) nodes may still see the value before it. */
int mc_value_allowed(const struct mc_world *w, int page, uint64_t v)
{
    const struct mc_hist *h = &w->hist[page];
    int from = h->n - 1;
    int last_plain = 0;
    for (int i = 1; i < h->n; i++) {
        if (w->script.ops[h->op[i]].kind == MC_WRITE) {
            last_plain = i;
        }
    }
    for (int i = h->n - 1; i >= 1; i--) {
        if (w->script.ops[h->op[i]].kind == MC_WU && w->wu_active[h->op[i]] && i - 1 < from) {
            from = i - 1;
        }
    }
    if (from < last_plain) {
        from = last_plain;
    }
    for (int i = from; i < h->n; i++) {
        if (h->value[i] == v) {
            return 1;
        }
    }
    return 0;
}

static uint64_t word_of(const struct mc_world *w, int node, int page)
{
    return *(volatile uint64_t *)(w->node[node].mem + (size_t)page * DSM_PAGE_SIZE);
}

static void note_page(struct mc_world *w, int page, const int *resident);

/* A write-update takes effect when its value first appears in memory. */
void mc_note_write_updates(struct mc_world *w)
{
    for (int p = 0; p < MC_PAGES; p++) {
        int resident[MC_NODES], wp;
        for (int i = 0; i < MC_NODES; i++) {
            if (mc_mem_probe(w, i, p, &resident[i], &wp) < 0) {
                return;
            }
            /* trust the memory only where the state agrees (checked after the step) */
            resident[i] &= w->node[i].d->pages[p].state != DSM_PS_INVALID;
        }
        note_page(w, p, resident);
    }
}

static void note_page(struct mc_world *w, int page, const int *resident)
{
    for (int k = 0; k < w->script.nops; k++) {
        const struct mc_op *op = &w->script.ops[k];
        if (op->kind != MC_WU || op->page != page || !w->wu_active[k] || w->wu_effective[k]) {
            continue;
        }
        for (int i = 0; i < MC_NODES; i++) {
            if (resident[i] && word_of(w, i, page) == op->value) {
                struct mc_hist *h = &w->hist[page];
                h->value[h->n] = op->value;
                h->op[h->n++] = (int8_t)k;
                w->wu_effective[k] = 1;
                break;
            }
        }
    }
}

void mc_check_step(struct mc_world *w)
{
    for (int i = 0; i < MC_NODES; i++) {
        if (w->node[i].d->lq_head) {
            mc_violation(w, "node %d left a message to itself undelivered", i);
            return;
        }
    }
    for (int p = 0; p < MC_PAGES && !w->violation[0]; p++) {
        int resident[MC_NODES], wp, modified = -1, copies = 0;
        for (int i = 0; i < MC_NODES; i++) {
            const struct dsm_page *pg = &w->node[i].d->pages[p];
            if (mc_mem_probe(w, i, p, &resident[i], &wp) < 0) {
                return;
            }
            if (resident[i] != (pg->state != DSM_PS_INVALID) ||
                (resident[i] && wp != (pg->state == DSM_PS_SHARED ||
                                       pg->state == DSM_PS_EXCLUSIVE))) {
                mc_violation(w, "node %d page %d is %s but its memory is %s", i, p,
                             state_name(pg->state), !resident[i] ? "absent" :
                             wp ? "present, write-protected" : "present, writable");
                return;
            }
            if (pg->state == DSM_PS_MODIFIED || pg->state == DSM_PS_EXCLUSIVE) {
                if (modified >= 0) {
                    mc_violation(w, "page %d is held exclusively on nodes %d and %d", p,
                                 modified, i);
                    return;
                }
                modified = i;
            }
            copies += resident[i];
        }
        if (modified >= 0 && copies > 1) {
            mc_violation(w, "page %d is %s on node %d while %d other node(s) hold a copy", p,
                         state_name(w->node[modified].d->pages[p].state), modified, copies - 1);
            return;
        }
        for (int i = 0; i < MC_NODES; i++) {
            if (resident[i] && !mc_value_allowed(w, p, word_of(w, i, p))) {
                mc_violation(w, "node %d holds page %d with %llu, latest write is %llu", i, p,
                             (unsigned long long)word_of(w, i, p),
                             (unsigned long long)w->hist[p].value[w->hist[p].n - 1]);
                return;
            }
        }
    }
}

static const struct dsm_mpage *mpage(const struct mc_world *w, int page)
{
    const struct dsm *d = w->node[mc_home(w, page)].d;
    return &d->mpages[dsm_home_slot(&d->homes, d->self, (uint64_t)page)];
}

/* No step is enabled: every operation must have completed, nothing in flight. */
void mc_check_final(struct mc_world *w)
{
    for (int s = 0; s < MC_NODES; s++) {
        for (int t = 0; t < MC_NODES; t++) {
            if (w->chan[s][t].len) {
                mc_violation(w, "deadlock: %d frame(s) stuck on %d->%d", w->chan[s][t].len, s, t);
                return;
            }
        }
    }
    for (int i = 0; i < MC_NODES; i++) {
        const struct mc_node *n = &w->node[i];
        for (int th = 0; th < MC_THREADS; th++) {
            const struct mc_thread *t = &n->t[th];
            if (t->pc < t->nops) {
                const struct mc_op *op = &w->script.ops[t->op[t->pc]];
                mc_violation(w, "deadlock: node %d%s never completes its %c on page %d", i,
                             th ? "b" : "", op->kind, op->page);
                return;
            }
        }
        for (int p = 0; p < MC_PAGES; p++) {
            if (n->d->pages[p].pending) {
                mc_violation(w, "node %d still has a request for page %d in flight", i, p);
                return;
            }
        }
    }
    for (int p = 0; p < MC_PAGES; p++) {
        const struct dsm_mpage *mp = mpage(w, p);
        const struct mc_hist *h = &w->hist[p];
        if (mp->op) {
            mc_violation(w, "manager %d of page %d still has a request queued", mc_home(w, p), p);
            return;
        }
        for (int i = 0; i < MC_NODES; i++) {
            int st = w->node[i].d->pages[p].state;
            if (st == DSM_PS_INVALID) {
                continue;
            }
            if (word_of(w, i, p) != h->value[h->n - 1]) {
                mc_violation(w, "at the end node %d holds page %d with %llu, not %llu", i, p,
                             (unsigned long long)word_of(w, i, p),
                             (unsigned long long)h->value[h->n - 1]);
                return;
            }
            /* a copy the manager does not know of would never be invalidated */
            if (mp->owner != i && !(mp->copyset & (1ull << i))) {
                mc_violation(w, "node %d holds page %d (%s) unknown to its manager (owner %d, "
                             "copyset 0x%llx)", i, p, state_name(st), mp->owner,
                             (unsigned long long)mp->copyset);
                return;
            }
            if ((st == DSM_PS_MODIFIED || st == DSM_PS_EXCLUSIVE) && mp->owner != i) {
                mc_violation(w, "node %d holds page %d %s but the owner is %d", i, p,
                             state_name(st), mp->owner);
                return;
            }
        }
    }
}

/* ---- state hash (for pruning states already explored) ------------------- */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

/* Everything that decides what can happen next or what the checks say:
 * per node its pages (state, pending, content), script position and
 * write-update flag; per manager its tables and queued requests; the
 * channels; the history the read checks use. */
uint64_t mc_hash(const struct mc_world *w)
{
    uint64_t h = 0x243f6a8885a308d3ull;
    for (int i = 0; i < MC_NODES; i++) {
        const struct mc_node *n = &w->node[i];
        const struct dsm *d = n->d;
        for (int th = 0; th < MC_THREADS; th++) {
            h = mix(h, (uint64_t)n->t[th].pc << 8 | (uint64_t)n->t[th].phase << 4);
        }
        h = mix(h, (uint64_t)d->wu_done);
        h = mix(h, atomic_load(&d->failed_mask));
        h = mix(h, d->lq_head != NULL);
        for (int p = 0; p < MC_PAGES; p++) {
            const struct dsm_page *pg = &d->pages[p];
            h = mix(h, (uint64_t)pg->hints << 16 | (uint64_t)pg->state << 8 | pg->pending);
            h = mix(h, pg->state != DSM_PS_INVALID ? word_of(w, i, p) : ~0ull);
        }
        for (uint64_t s = 0; s < d->nmpages; s++) {
            const struct dsm_mpage *mp = &d->mpages[s];
            h = mix(h, (uint64_t)(uint8_t)mp->owner << 56 | mp->copyset);
            for (const struct dsm_mop *op = mp->op; op; op = op->next) {
                h = mix(h, (uint64_t)op->type | (uint64_t)op->requester << 8 |
                        (uint64_t)op->remote << 16 | (uint64_t)op->fetched << 24 |
                        (uint64_t)(uint32_t)op->acks << 32);
                h = mix(h, (uint64_t)op->wu_off << 32 | op->wu_len);
                if (op->data) {
                    /* the bytes to write; the page being built is uninitialised until
                     * fetched, and once broadcast it is in the channels and memory */
                    uint64_t b;
                    memcpy(&b, op->data + DSM_PAGE_SIZE, sizeof(b));
                    h = mix(h, b);
                }
            }
            h = mix(h, 0xfeed);
        }
    }
    for (int s = 0; s < MC_NODES; s++) {
        for (int t = 0; t < MC_NODES; t++) {
            const struct mc_chan *c = &w->chan[s][t];
            h = mix(h, (uint64_t)c->len);
            for (int k = 0; k < c->len; k++) {
                const struct mc_frame *f = &c->f[(c->head + k) % MC_CHAN_MAX];
                h = mix(h, (uint64_t)f->h.type | (uint64_t)f->h.flags << 8 |
                        (uint64_t)f->h.payload_len << 32);
                h = mix(mix(mix(h, f->h.page), f->h.arg), f->value);
            }
        }
    }
    for (int p = 0; p < MC_PAGES; p++) {
        const struct mc_hist *hi = &w->hist[p];
        h = mix(h, (uint64_t)hi->n);
        for (int k = 0; k < hi->n; k++) {
            h = mix(h, hi->value[k]);
        }
        for (int i = 0; i < MC_NODES; i++) {
            h = mix(h, w->swallow_done[i][p]);
        }
    }
    for (int k = 0; k < w->script.nops; k++) {
        h = mix(h, (uint64_t)w->wu_active[k] << 1 | w->wu_effective[k]);
        h = mix(h, w->script.ops[k].kind == MC_READ ? w->script.ops[k].value : 0);
    }
    return h;
}
