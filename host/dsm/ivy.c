/* ivy.c - Ivy coherence with fixed distributed managers.
 *
 * Page p is managed by its home node (home.h: p % n, or the node whose
 * guest NUMA memory holds it).  The manager serialises every request
 * for its pages (one in flight, others queued) and knows the owner and the
 * copyset.  A grant sent by another node (the owner) completes when the
 * requester reports DONE, so a later invalidation from the manager can
 * never overtake it.  A grant the manager sends itself completes at once:
 * messages between two nodes arrive in the order they were sent, so
 * whatever the manager sends the requester later arrives after the grant.
 *
 *   read:  R -READ_REQ-> M -FWD_READ-> O -PAGE(shared)-> R -DONE-> M
 *          (M is the owner, or there is none yet: M -PAGE-> R, no DONE)
 *   write: R -WRITE_REQ-> M, M -INV-> each copy holder -INV_ACK-> M,
 *          then M -FWD_WRITE-> O -PAGE(excl)-> R -DONE-> M
 *          (R already has the content: PAGE(excl, nodata) = just unprotect;
 *          M is the owner, or there is none, or R is: no DONE)
 *
 * All handlers run with d->lock held.  Messages to self go through a local
 * queue drained by whoever holds the lock, so handlers never recurse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>

#include "dsm_internal.h"
#include "uffd.h"

static const uint8_t zero_page[DSM_PAGE_SIZE] __attribute__((aligned(4096)));

#if defined(__SANITIZE_THREAD__)
#define DSM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DSM_TSAN 1
#endif
#endif

#ifdef DSM_TSAN
/* ThreadSanitizer cannot know that a write-protected page is stable, so
 * reading one that application threads wrote earlier looks like a race.
 * In that build the content is staged through a copy TSan does not see. */
__attribute__((no_sanitize("thread"), noinline))
static void copy_unseen(uint64_t *dst, const volatile uint64_t *src)
{
    for (size_t i = 0; i < DSM_PAGE_SIZE / sizeof(uint64_t); i++) {
        dst[i] = src[i];
    }
}

static const void *stable_page(struct dsm *d, const uint8_t *pa)
{
    static __thread uint64_t stage[DSM_PAGE_SIZE / sizeof(uint64_t)];
    (void)d;
    copy_unseen(stage, (const volatile uint64_t *)pa);
    return stage;
}
#else
/* Write-protected (or about to be dropped): safe to send from directly. */
static const void *stable_page(struct dsm *d, const uint8_t *pa)
{
    (void)d;
    return pa;
}
#endif

static inline int manager_of(struct dsm *d, uint64_t p)
{
    return dsm_home_of(&d->homes, p);
}

static inline struct dsm_mpage *mpage_of(struct dsm *d, uint64_t p)
{
    return &d->mpages[dsm_home_slot(&d->homes, d->self, p)];
}

static inline uint64_t bit(int node)
{
    return 1ull << node;
}

uint64_t dsm_page_index(struct dsm *d, const void *addr, int *ok)
{
    const uint8_t *a = addr;
    for (int i = 0; i < d->nregions; i++) {
        const struct dsm_region *r = &d->regions[i];
        if (a >= r->base && a < r->base + r->size) {
            *ok = 1;
            return r->first_page + (uint64_t)(a - r->base) / DSM_PAGE_SIZE;
        }
    }
    *ok = 0;
    return 0;
}

uint8_t *dsm_page_addr(struct dsm *d, uint64_t p)
{
    for (int i = 0; i < d->nregions; i++) {
        const struct dsm_region *r = &d->regions[i];
        if (p >= r->first_page && p < r->first_page + r->npages) {
            return r->base + (p - r->first_page) * DSM_PAGE_SIZE;
        }
    }
    return NULL;
}

/* For probes: region number and byte offset in it. */
static void page_region_offset(struct dsm *d, uint64_t p, int *region, uint64_t *off)
{
    for (int i = 0; i < d->nregions; i++) {
        const struct dsm_region *r = &d->regions[i];
        if (p >= r->first_page && p < r->first_page + r->npages) {
            *region = i;
            *off = (p - r->first_page) * DSM_PAGE_SIZE;
            return;
        }
    }
    *region = -1;
    *off = 0;
}

void dsm_send(struct dsm *d, int dst, unsigned type, uint64_t page, uint64_t arg,
              uint32_t flags, const void *payload, uint32_t len)
{
    if (dst == d->self) {
        struct dsm_local_msg *m = malloc(sizeof(*m) + len);
        if (!m) {
            dsm_mark_failed(d, d->self, "out of memory queueing a local message");
            return;
        }
        m->next = NULL;
        dsm_msg_init(&m->h, type, d->self, page, arg, flags, len);
        if (len) {
            memcpy(m->payload, payload, len);
        }
        if (d->lq_tail) {
            d->lq_tail->next = m;
        } else {
            d->lq_head = m;
        }
        d->lq_tail = m;
        return;
    }
    if (atomic_load(&d->failed_mask) & bit(dst)) {
        return;   /* already reported; waiting faults were listed then */
    }
    struct dsm_msg_hdr h;
    dsm_msg_init(&h, type, d->self, page, arg, flags, len);
    DSM_STAT_ADD(d, msgs_sent, 1);
    DSM_STAT_ADD(d, bytes_sent, sizeof(h) + len);
    d->tr->ops->send(d->tr, dst, &h, payload);
}

void dsm_drain_local(struct dsm *d)
{
    while (d->lq_head) {
        struct dsm_local_msg *m = d->lq_head;
        d->lq_head = m->next;
        if (!d->lq_head) {
            d->lq_tail = NULL;
        }
        char err[256];
        if (dsm_dispatch(d, d->self, &m->h, m->payload, err, sizeof(err)) < 0) {
            dsm_logf(d, DSM_LOG_ERROR, "internal protocol error on local %s: %s",
                     dsm_msg_type_name(m->h.type), err);
        }
        free(m);
    }
}

static void track_add(struct dsm *d, uint64_t p, uint32_t tid, uint64_t in_page)
{
    if (d->ntracked < DSM_MAX_TRACKED) {
        d->tracked[d->ntracked++] = (struct dsm_inflight){ p, tid, (uint16_t)in_page };
    }
}

/* Forgets p's request; returns what it was (tid 0 when it was not tracked). */
static struct dsm_inflight track_del(struct dsm *d, uint64_t p)
{
    struct dsm_inflight r = { p, 0, 0 };
    for (int i = 0; i < d->ntracked; i++) {
        if (d->tracked[i].page == p) {
            r = d->tracked[i];
            d->tracked[i] = d->tracked[--d->ntracked];
            break;
        }
    }
    return r;
}

/* A failed write-protect or drop would break coherence silently: say so. */
static void protect(struct dsm *d, uint64_t p, uint8_t *pa)
{
    if (dsm_uffd_wp(d->uffd, pa, 1) < 0) {
        dsm_logf(d, DSM_LOG_ERROR, "write-protecting page %llu failed: %s",
                 (unsigned long long)p, strerror(errno));
    }
}

static void drop(struct dsm *d, uint64_t p, uint8_t *pa)
{
    if (dsm_uffd_drop(pa) < 0) {
        dsm_logf(d, DSM_LOG_ERROR, "dropping page %llu failed: %s", (unsigned long long)p,
                 strerror(errno));
    }
}

/* An exclusively held copy (Modified or Exclusive) becomes Shared, write-protected
 * first.  An Exclusive one was never written here: the migratory mark was wrong. */
static void downgrade(struct dsm *d, uint64_t p, uint8_t *pa)
{
    struct dsm_page *pg = &d->pages[p];
    if (pg->state == DSM_PS_MODIFIED) {
        protect(d, p, pa);
    } else if (pg->state == DSM_PS_EXCLUSIVE) {
        pg->hints &= (uint8_t)~DSM_HINT_MIGRATORY;
        DSM_STAT_ADD(d, migratory_cleared, 1);
    } else {
        return;
    }
    pg->state = DSM_PS_SHARED;
}

/* The manager sent requester r its grant itself: the request is complete.
 * Queued locally, so the request ends once the current handler returns,
 * never inside it (completing starts the next queued request). */
static void mgr_granted(struct dsm *d, uint64_t p, int r)
{
    dsm_send(d, d->self, DSM_MSG_DONE, p, (uint64_t)r, 0, NULL, 0);
}

/* ---- requester side ------------------------------------------------- */

/* How a fault was resolved, as the fault_end probe reports it. */
enum dsm_resolution {
    DSM_RES_ZERO = 0,       /* never written anywhere: zero page, no data shipped */
    DSM_RES_DATA = 1,       /* 4 KiB transferred from the sending node */
    DSM_RES_UPGRADE = 2,    /* S -> M without data (this node held the content) */
    DSM_RES_LOCAL = 3,      /* resolved on this node without any message */
};

static int resolution_of(uint32_t page_flags)
{
    if (page_flags & DSM_PF_NODATA) {
        return DSM_RES_UPGRADE;
    }
    return (page_flags & DSM_PF_ZERO) ? DSM_RES_ZERO : DSM_RES_DATA;
}

/* The first store into an Exclusive page: no other copy exists, so it needs
 * nobody (clearing the write protection wakes the writer).  Counted in
 * exclusive_upgrades only: read_faults + write_faults stay the faults that
 * the fault_start/fault_end probes see (a profile's total), and perf refuses
 * an SDT probe whose sites disagree on which arguments are constants. */
static void upgrade_exclusive(struct dsm *d, uint64_t p, uint8_t *pa)
{
    struct dsm_page *pg = &d->pages[p];
    if (dsm_uffd_wp(d->uffd, pa, 0) < 0) {
        dsm_logf(d, DSM_LOG_ERROR, "UFFDIO_WRITEPROTECT clear page %llu failed",
                 (unsigned long long)p);
    }
    pg->state = DSM_PS_MODIFIED;
    DSM_STAT_ADD(d, exclusive_upgrades, 1);
}

void dsm_handle_fault(struct dsm *d, uintptr_t addr, int is_write, uint32_t tid)
{
    int ok;
    uint64_t p = dsm_page_index(d, (void *)addr, &ok);
    if (!ok) {
        dsm_logf(d, DSM_LOG_ERROR, "fault at %#lx outside registered regions",
                 (unsigned long)addr);
        return;
    }
    struct dsm_page *pg = &d->pages[p];
    uint8_t *pa = dsm_page_addr(d, p);
    if (is_write ? pg->state == DSM_PS_MODIFIED : pg->state != DSM_PS_INVALID) {
        /* Already resolved by an install that raced with this fault. */
        dsm_uffd_wake(d->uffd, pa);
        return;
    }
    if (is_write && pg->state == DSM_PS_EXCLUSIVE) {
        upgrade_exclusive(d, p, pa);
        return;
    }
    if (pg->pending) {
        /* The install for the request in flight wakes every thread waiting
         * on the page; those that need more fault again. */
        return;
    }
    int mgr = manager_of(d, p);
    if (atomic_load(&d->failed_mask) & bit(mgr)) {
        dsm_logf(d, DSM_LOG_ERROR, "fault on page %llu cannot be served: its manager node %d "
                 "failed", (unsigned long long)p, mgr);
        return;
    }
    int region;
    uint64_t off;
    page_region_offset(d, p, &region, &off);
    /* Counted faults only (the same ones as read_faults + write_faults). */
    uint64_t in_page = addr & (DSM_PAGE_SIZE - 1);
    DTRACE_PROBE5(dsm, fault_start, region, off + in_page, is_write, tid,
                  d->uffd_features.exact_address);
    pg->pending = is_write ? DSM_PEND_WRITE : DSM_PEND_READ;
    if (d->cfg.exclusive_reads) {
        if (is_write && pg->state == DSM_PS_SHARED && (pg->hints & DSM_HINT_READ_COPY)) {
            pg->hints |= DSM_HINT_MIGRATORY;   /* read, then written: it migrates */
        } else if (!is_write && (pg->hints & DSM_HINT_MIGRATORY) &&
                   pg->policy != DSM_POLICY_WRITE_UPDATE) {
            pg->pending = DSM_PEND_XREAD;
            DSM_STAT_ADD(d, exclusive_reads, 1);
        }
    }
    pg->fault_start_ns = dsm_now_ns();
    __atomic_fetch_add(&pg->faults, 1, __ATOMIC_RELAXED);
    if (is_write) {
        DSM_STAT_ADD(d, write_faults, 1);
        if (pg->policy == DSM_POLICY_WRITE_UPDATE) {
            DSM_STAT_ADD(d, wu_fallbacks, 1);   /* plain store: falls back to invalidate */
        }
    } else {
        DSM_STAT_ADD(d, read_faults, 1);
    }
    track_add(d, p, tid, in_page);
    dsm_send(d, mgr, pg->pending == DSM_PEND_READ ? DSM_MSG_READ_REQ : DSM_MSG_WRITE_REQ, p, 0,
             0, NULL, 0);
}

/* A Shared copy the manager sent ahead of a read.  Its copyset already
 * names this node, and anything the manager sends later (an invalidation,
 * a grant for a fault racing with this) arrives after it. */
static int on_page_ahead(struct dsm *d, int src, const struct dsm_msg_hdr *h,
                         const void *payload, char *err, size_t errlen)
{
    uint64_t p = h->page;
    struct dsm_page *pg = &d->pages[p];
    uint8_t *pa = dsm_page_addr(d, p);

    if (src != manager_of(d, p) || src == d->self) {
        snprintf(err, errlen, "read-ahead PAGE %llu from node %d, which is not its manager",
                 (unsigned long long)p, src);
        return -1;
    }
    if (pg->state != DSM_PS_INVALID) {
        /* a write-update install got here first: it is at least as new */
        return 0;
    }
    if (dsm_uffd_install(d->uffd, pa, payload, 1) < 0) {
        dsm_logf(d, DSM_LOG_ERROR, "UFFDIO_COPY (read-ahead) page %llu failed",
                 (unsigned long long)p);
    }
    pg->state = DSM_PS_SHARED;
    pg->hints &= (uint8_t)~DSM_HINT_READ_COPY;
    DSM_STAT_ADD(d, read_ahead_received, 1);
    DSM_STAT_ADD(d, pages_received, 1);
    DTRACE_PROBE2(dsm, page_received, p, src);
    if (d->cb.page_replaced) {
        d->cb.page_replaced(d->cb.opaque, pa, DSM_PAGE_SIZE);
    }
    return 0;
}

static int on_page(struct dsm *d, int src, const struct dsm_msg_hdr *h, const void *payload,
                   char *err, size_t errlen)
{
    uint64_t p = h->page;
    struct dsm_page *pg = &d->pages[p];
    uint8_t *pa = dsm_page_addr(d, p);
    uint32_t f = h->flags;
    int want_write = pg->pending == DSM_PEND_WRITE || pg->pending == DSM_PEND_XREAD;

    if (f & DSM_PF_AHEAD) {
        return on_page_ahead(d, src, h, payload, err, errlen);
    }
    if (!pg->pending || want_write != !!(f & DSM_PF_EXCL)) {
        snprintf(err, errlen, "PAGE %llu (flags 0x%x) does not match a request in flight",
                 (unsigned long long)p, f);
        return -1;
    }
    if (f & DSM_PF_NODATA) {
        if (pg->state != DSM_PS_SHARED) {
            snprintf(err, errlen, "PAGE %llu without data but no local copy",
                     (unsigned long long)p);
            return -1;
        }
        if (dsm_uffd_wp(d->uffd, pa, 0) < 0) {
            dsm_logf(d, DSM_LOG_ERROR, "UFFDIO_WRITEPROTECT clear page %llu failed",
                     (unsigned long long)p);
        }
        pg->state = DSM_PS_MODIFIED;
        pg->hints &= (uint8_t)~DSM_HINT_READ_COPY;
    } else {
        const void *content = (f & DSM_PF_ZERO) ? zero_page : payload;
        int xread = pg->pending == DSM_PEND_XREAD;
        int wp = (f & DSM_PF_SHARED) != 0 || xread;
        if (pg->state != DSM_PS_INVALID) {
            /* A write-update install got here first: replace it. */
            drop(d, p, pa);
        }
        if (dsm_uffd_install(d->uffd, pa, content, wp) < 0) {
            dsm_logf(d, DSM_LOG_ERROR, "UFFDIO_COPY page %llu failed", (unsigned long long)p);
        }
        pg->state = xread ? DSM_PS_EXCLUSIVE : wp ? DSM_PS_SHARED : DSM_PS_MODIFIED;
        if (pg->state == DSM_PS_SHARED) {
            pg->hints |= DSM_HINT_READ_COPY;
        } else {
            pg->hints &= (uint8_t)~DSM_HINT_READ_COPY;
        }
        if (f & DSM_PF_ZERO) {
            DSM_STAT_ADD(d, zero_page_installs, 1);
        } else {
            DSM_STAT_ADD(d, pages_received, 1);
            DTRACE_PROBE2(dsm, page_received, p, src);
        }
        if (d->cb.page_replaced) {
            d->cb.page_replaced(d->cb.opaque, pa, DSM_PAGE_SIZE);
        }
    }
    uint64_t lat = dsm_now_ns() - pg->fault_start_ns;
    dsm_stats_record_latency(d, lat);
    if ((f & DSM_PF_REMOTE) || src != d->self) {
        DSM_STAT_ADD(d, faults_remote, 1);
    } else {
        DSM_STAT_ADD(d, faults_local, 1);
    }
    int region;
    uint64_t off;
    page_region_offset(d, p, &region, &off);
    pg->pending = DSM_PEND_NONE;
    struct dsm_inflight req = track_del(d, p);
    /* Everything a profile needs from the fault, so that recording takes one probe hit
     * per fault, after the faulting thread was woken. */
    DTRACE_PROBE8(dsm, fault_end, region, off + req.in_page, want_write, lat,
                  resolution_of(f), src, req.tid, d->uffd_features.exact_address);
    int mgr = manager_of(d, p);
    if (src != mgr) {
        /* A local DONE names its requester (arg); a remote one is its sender. */
        dsm_send(d, mgr, DSM_MSG_DONE, p, mgr == d->self ? (uint64_t)d->self : 0, 0, NULL, 0);
    }
    return 0;
}

/* ---- owner / copy holder side --------------------------------------- */

/* This node owns and manages p and just granted reader r a copy: send r
 * the next pages in the same way while they are idle here (no request in
 * flight or queued), owned and managed here, not yet r's, and neither lost
 * a copy on this node nor had copies invalidated for a write (such a page
 * is contended: a copy sent ahead would only cost the writer an upgrade
 * and the reader an invalidation, every time the writer writes). */
static void mgr_read_ahead(struct dsm *d, uint64_t p, int r)
{
    int ok;
    uint8_t *pa = dsm_page_addr(d, p);
    for (unsigned i = 1; i <= d->cfg.read_ahead_pages; i++) {
        uint64_t q = p + i;
        uint8_t *qa = pa + (size_t)i * DSM_PAGE_SIZE;
        if (q >= d->total_pages || dsm_page_index(d, qa, &ok) != q || !ok ||
            manager_of(d, q) != d->self) {
            return;    /* end of the region, or of this node's home range */
        }
        struct dsm_page *qg = &d->pages[q];
        struct dsm_mpage *mq = mpage_of(d, q);
        if (mq->op || mq->owner != d->self || (mq->copyset & bit(r)) || mq->write_shared ||
            qg->state == DSM_PS_INVALID || qg->pending || qg->invalidations ||
            qg->policy == DSM_POLICY_WRITE_UPDATE) {
            continue;
        }
        if (!memcmp(qa, zero_page, DSM_PAGE_SIZE)) {
            continue;  /* likely never used: the reader would not want it either */
        }
        downgrade(d, q, qa);
        dsm_send(d, r, DSM_MSG_PAGE, q, 0, DSM_PF_SHARED | DSM_PF_AHEAD | DSM_PF_REMOTE,
                 stable_page(d, qa), DSM_PAGE_SIZE);
        mq->copyset |= bit(r) | bit(d->self);
        DSM_STAT_ADD(d, pages_sent, 1);
        DSM_STAT_ADD(d, read_ahead_sent, 1);
        DTRACE_PROBE2(dsm, page_sent, q, r);
    }
}

static int on_fwd(struct dsm *d, const struct dsm_msg_hdr *h, char *err, size_t errlen)
{
    uint64_t p = h->page;
    struct dsm_page *pg = &d->pages[p];
    uint8_t *pa = dsm_page_addr(d, p);
    int to = (int)h->arg;
    if (pg->state == DSM_PS_INVALID) {
        snprintf(err, errlen, "%s for page %llu which this node does not hold",
                 dsm_msg_type_name(h->type), (unsigned long long)p);
        return -1;
    }
    /* Write-protect first: no store may slip in after the copy is taken. */
    downgrade(d, p, pa);
    int is_mgr = manager_of(d, p) == d->self;
    if (h->type == DSM_MSG_FWD_READ) {
        /* Sent straight from the now read-only page (no staging copy). */
        dsm_send(d, to, DSM_MSG_PAGE, p, 0, DSM_PF_SHARED | DSM_PF_REMOTE, stable_page(d, pa),
                 DSM_PAGE_SIZE);
        DSM_STAT_ADD(d, pages_sent, 1);
        DTRACE_PROBE2(dsm, page_sent, p, to);
        if (is_mgr) {
            mgr_granted(d, p, to);
            mgr_read_ahead(d, p, to);
        }
        return 0;
    }
    if (h->flags & DSM_PF_NODATA) {
        dsm_send(d, to, DSM_MSG_PAGE, p, 0, DSM_PF_EXCL | DSM_PF_NODATA | DSM_PF_REMOTE,
                 NULL, 0);
    } else {
        dsm_send(d, to, DSM_MSG_PAGE, p, 0, DSM_PF_EXCL | DSM_PF_REMOTE, stable_page(d, pa),
                 DSM_PAGE_SIZE);
        DSM_STAT_ADD(d, pages_sent, 1);
        DTRACE_PROBE2(dsm, page_sent, p, to);
    }
    /* Only after the content left (send copied it): drop the page. */
    drop(d, p, pa);
    pg->state = DSM_PS_INVALID;
    if (d->cb.page_replaced) {
        d->cb.page_replaced(d->cb.opaque, pa, DSM_PAGE_SIZE);
    }
    if (is_mgr) {
        mgr_granted(d, p, to);
    }
    return 0;
}

static int on_inv(struct dsm *d, int src, const struct dsm_msg_hdr *h)
{
    uint64_t p = h->page;
    struct dsm_page *pg = &d->pages[p];
    uint8_t *pa = dsm_page_addr(d, p);
    if (pg->state == DSM_PS_MODIFIED || pg->state == DSM_PS_EXCLUSIVE) {
        dsm_logf(d, DSM_LOG_WARN, "INV for page %llu held exclusively", (unsigned long long)p);
        downgrade(d, p, pa);
    }
    if (pg->state != DSM_PS_INVALID) {
        drop(d, p, pa);
        pg->state = DSM_PS_INVALID;
        /* Before the ack: whoever writes next must not race code cached from the old copy. */
        if (d->cb.page_replaced) {
            d->cb.page_replaced(d->cb.opaque, pa, DSM_PAGE_SIZE);
        }
    }
    DSM_STAT_ADD(d, invalidations_received, 1);
    __atomic_fetch_add(&pg->invalidations, 1, __ATOMIC_RELAXED);
    DTRACE_PROBE2(dsm, invalidation, p, src);
    dsm_send(d, src, DSM_MSG_INV_ACK, p, 0, 0, NULL, 0);
    return 0;
}

/* Replaces this node's copy with new content, write-protected. */
static void wu_install(struct dsm *d, uint64_t p, const void *content)
{
    struct dsm_page *pg = &d->pages[p];
    uint8_t *pa = dsm_page_addr(d, p);
    if (pg->state != DSM_PS_INVALID) {
        drop(d, p, pa);     /* faulting readers wait for the copy below */
    }
    if (dsm_uffd_install(d->uffd, pa, content, 1) < 0) {
        dsm_logf(d, DSM_LOG_ERROR, "UFFDIO_COPY (write-update) page %llu failed",
                 (unsigned long long)p);
    }
    pg->state = DSM_PS_SHARED;
    pg->hints &= (uint8_t)~DSM_HINT_READ_COPY;
    DSM_STAT_ADD(d, wu_pages_replaced, 1);
    int region;
    uint64_t off;
    page_region_offset(d, p, &region, &off);
    DTRACE_PROBE2(dsm, write_update, region, off);
    if (d->cb.page_replaced) {
        d->cb.page_replaced(d->cb.opaque, pa, DSM_PAGE_SIZE);
    }
}

static int on_fetch(struct dsm *d, int src, const struct dsm_msg_hdr *h, char *err,
                    size_t errlen)
{
    uint64_t p = h->page;
    struct dsm_page *pg = &d->pages[p];
    uint8_t *pa = dsm_page_addr(d, p);
    if (pg->state == DSM_PS_INVALID) {
        snprintf(err, errlen, "FETCH for page %llu which this node does not hold",
                 (unsigned long long)p);
        return -1;
    }
    downgrade(d, p, pa);
    dsm_send(d, src, DSM_MSG_FETCH_REPLY, p, 0, 0, stable_page(d, pa), DSM_PAGE_SIZE);
    DSM_STAT_ADD(d, pages_sent, 1);
    return 0;
}

/* ---- manager side ---------------------------------------------------- */

static void mgr_start(struct dsm *d, uint64_t p);

static void mgr_finish(struct dsm *d, uint64_t p)
{
    struct dsm_mpage *mp = mpage_of(d, p);
    struct dsm_mop *op = mp->op;
    mp->op = op->next;
    if (!mp->op) {
        mp->tail = NULL;
    }
    free(op->data);
    free(op);
    if (mp->op) {
        mgr_start(d, p);
    }
}

static void mgr_write_proceed(struct dsm *d, uint64_t p)
{
    struct dsm_mpage *mp = mpage_of(d, p);
    struct dsm_mop *op = mp->op;
    int r = op->requester;
    int has_copy = (mp->copyset & bit(r)) || mp->owner == r;
    if (r != d->self) {
        op->remote = 1;
    }
    if (mp->owner == DSM_NO_OWNER || mp->owner == r) {
        uint32_t f = DSM_PF_EXCL | (has_copy ? DSM_PF_NODATA : DSM_PF_ZERO) |
                     (op->remote ? DSM_PF_REMOTE : 0);
        dsm_send(d, r, DSM_MSG_PAGE, p, 0, f, NULL, 0);
        mgr_granted(d, p, r);
    } else {
        dsm_send(d, mp->owner, DSM_MSG_FWD_WRITE, p, (uint64_t)r,
                 has_copy ? DSM_PF_NODATA : 0, NULL, 0);
    }
}

static void mgr_wu_broadcast(struct dsm *d, uint64_t p)
{
    struct dsm_mpage *mp = mpage_of(d, p);
    struct dsm_mop *op = mp->op;
    memcpy(op->data + op->wu_off, op->data + DSM_PAGE_SIZE, op->wu_len);
    op->acks = 0;
    for (int j = 0; j < d->n; j++) {
        if (j != d->self && !(atomic_load(&d->failed_mask) & bit(j))) {
            dsm_send(d, j, DSM_MSG_WU_PAGE, p, 0, 0, op->data, DSM_PAGE_SIZE);
            op->acks++;
        }
    }
    wu_install(d, p, op->data);
    if (op->acks == 0) {
        dsm_send(d, d->self, DSM_MSG_WU_ACK, p, 0, 0, NULL, 0);
        op->acks = 1;
    }
}

static void mgr_start(struct dsm *d, uint64_t p)
{
    struct dsm_mpage *mp = mpage_of(d, p);
    struct dsm_mop *op = mp->op;
    int r = op->requester;

    switch (op->type) {
    case DSM_MSG_READ_REQ:
        if (mp->owner == DSM_NO_OWNER) {
            /* Never written anywhere: no content to ship. */
            dsm_send(d, r, DSM_MSG_PAGE, p, 0,
                     DSM_PF_SHARED | DSM_PF_ZERO | (r != d->self ? DSM_PF_REMOTE : 0), NULL, 0);
            mgr_granted(d, p, r);
        } else if (mp->owner == r) {
            dsm_logf(d, DSM_LOG_ERROR, "node %d asks to read page %llu it owns", r,
                     (unsigned long long)p);
            mgr_finish(d, p);
        } else {
            dsm_send(d, mp->owner, DSM_MSG_FWD_READ, p, (uint64_t)r, 0, NULL, 0);
        }
        break;
    case DSM_MSG_WRITE_REQ: {
        uint64_t inv = mp->copyset & ~bit(r);
        if (mp->owner != DSM_NO_OWNER) {
            inv &= ~bit(mp->owner);   /* the owner's copy goes with the transfer */
        }
        op->acks = 0;
        if (inv) {
            mp->write_shared = 1;
        }
        for (int j = 0; j < d->n; j++) {
            if (inv & bit(j)) {
                if (j != d->self) {
                    op->remote = 1;
                }
                dsm_send(d, j, DSM_MSG_INV, p, 0, 0, NULL, 0);
                DSM_STAT_ADD(d, invalidations_sent, 1);
                op->acks++;
            }
        }
        if (op->acks == 0) {
            mgr_write_proceed(d, p);
        }
        break;
    }
    case DSM_MSG_WU_REQ: {
        struct dsm_page *pg = &d->pages[p];
        uint8_t *pa = dsm_page_addr(d, p);
        if (mp->owner == DSM_NO_OWNER) {
            memset(op->data, 0, DSM_PAGE_SIZE);
            mgr_wu_broadcast(d, p);
        } else if (pg->state != DSM_PS_INVALID) {
            downgrade(d, p, pa);
            memcpy(op->data, stable_page(d, pa), DSM_PAGE_SIZE);
            mgr_wu_broadcast(d, p);
        } else {
            dsm_send(d, mp->owner, DSM_MSG_FETCH, p, 0, 0, NULL, 0);
        }
        break;
    }
    }
}

static int mgr_enqueue(struct dsm *d, const struct dsm_msg_hdr *h, int src, const void *payload)
{
    struct dsm_mop *op = calloc(1, sizeof(*op));
    if (!op) {
        return -1;
    }
    op->type = h->type;
    op->requester = (uint8_t)src;
    if (h->type == DSM_MSG_WU_REQ) {
        /* [0, 4K): the page being built; [4K, 8K): the bytes to write */
        op->data = malloc(2 * DSM_PAGE_SIZE);
        if (!op->data) {
            free(op);
            return -1;
        }
        op->wu_off = (uint32_t)h->arg;
        op->wu_len = h->payload_len;
        memcpy(op->data + DSM_PAGE_SIZE, payload, h->payload_len);
    }
    struct dsm_mpage *mp = mpage_of(d, h->page);
    if (mp->op) {
        mp->tail->next = op;
        mp->tail = op;
        return 0;
    }
    mp->op = mp->tail = op;
    mgr_start(d, h->page);
    return 0;
}

static struct dsm_mop *current_op(struct dsm *d, const struct dsm_msg_hdr *h, unsigned type,
                                  char *err, size_t errlen)
{
    struct dsm_mop *op = mpage_of(d, h->page)->op;
    if (!op || op->type != type) {
        snprintf(err, errlen, "%s for page %llu with no matching request in progress",
                 dsm_msg_type_name(h->type), (unsigned long long)h->page);
        return NULL;
    }
    return op;
}

int dsm_dispatch(struct dsm *d, int src, const struct dsm_msg_hdr *h, const void *payload,
                 char *err, size_t errlen)
{
    uint64_t p = h->page;
    struct dsm_mpage *mp;
    struct dsm_mop *op;

    switch (h->type) {
    case DSM_MSG_FWD_READ: case DSM_MSG_FWD_WRITE: case DSM_MSG_INV:
    case DSM_MSG_FETCH: case DSM_MSG_WU_PAGE: case DSM_MSG_WU_DONE:
        if (src != manager_of(d, p)) {
            snprintf(err, errlen, "%s for page %llu from node %d, which is not its manager",
                     dsm_msg_type_name(h->type), (unsigned long long)p, src);
            return -1;
        }
        break;
    default:
        break;
    }

    switch (h->type) {
    case DSM_MSG_READ_REQ:
    case DSM_MSG_WRITE_REQ:
    case DSM_MSG_WU_REQ:
        if (mgr_enqueue(d, h, src, payload) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    case DSM_MSG_FWD_READ:
    case DSM_MSG_FWD_WRITE:
        return on_fwd(d, h, err, errlen);
    case DSM_MSG_PAGE:
        return on_page(d, src, h, payload, err, errlen);
    case DSM_MSG_INV:
        return on_inv(d, src, h);
    case DSM_MSG_INV_ACK:
        op = current_op(d, h, DSM_MSG_WRITE_REQ, err, errlen);
        if (!op || op->acks <= 0) {
            return op ? (snprintf(err, errlen, "unexpected INV_ACK"), -1) : -1;
        }
        mp = mpage_of(d, p);
        mp->copyset &= ~bit(src);
        if (--op->acks == 0) {
            mgr_write_proceed(d, p);
        }
        return 0;
    case DSM_MSG_DONE:
        mp = mpage_of(d, p);
        op = mp->op;
        if (src == d->self) {
            src = (int)h->arg;    /* local: a grant the manager sent, or its own fault's */
        }
        if (!op || op->requester != src || op->type == DSM_MSG_WU_REQ ||
            (op->type == DSM_MSG_WRITE_REQ && op->acks)) {
            snprintf(err, errlen, "DONE for page %llu from node %d without its request",
                     (unsigned long long)p, src);
            return -1;
        }
        if (op->type == DSM_MSG_READ_REQ) {
            mp->copyset |= bit(src);
            if (mp->owner != DSM_NO_OWNER) {
                mp->copyset |= bit(mp->owner);   /* the owner was downgraded */
            }
        } else {
            mp->owner = (int8_t)src;
            mp->copyset = 0;
        }
        mgr_finish(d, p);
        return 0;
    case DSM_MSG_FETCH:
        return on_fetch(d, src, h, err, errlen);
    case DSM_MSG_FETCH_REPLY:
        op = current_op(d, h, DSM_MSG_WU_REQ, err, errlen);
        mp = mpage_of(d, p);
        if (!op || op->fetched || src != mp->owner) {
            return op ? (snprintf(err, errlen, "unexpected FETCH_REPLY"), -1) : -1;
        }
        op->fetched = 1;
        memcpy(op->data, payload, DSM_PAGE_SIZE);
        mgr_wu_broadcast(d, p);
        return 0;
    case DSM_MSG_WU_PAGE:
        wu_install(d, p, payload);
        dsm_send(d, src, DSM_MSG_WU_ACK, p, 0, 0, NULL, 0);
        return 0;
    case DSM_MSG_WU_ACK:
        op = current_op(d, h, DSM_MSG_WU_REQ, err, errlen);
        if (!op || op->acks <= 0) {
            return op ? (snprintf(err, errlen, "unexpected WU_ACK"), -1) : -1;
        }
        if (--op->acks == 0) {
            mp = mpage_of(d, p);
            if (mp->owner == DSM_NO_OWNER) {
                mp->owner = (int8_t)d->self;
            }
            /* every live node now holds the new content, write-protected */
            mp->copyset = 0;
            for (int j = 0; j < d->n; j++) {
                if (!(atomic_load(&d->failed_mask) & bit(j))) {
                    mp->copyset |= bit(j);
                }
            }
            dsm_send(d, op->requester, DSM_MSG_WU_DONE, p, 0, 0, NULL, 0);
            mgr_finish(d, p);
        }
        return 0;
    case DSM_MSG_WU_DONE:
        d->wu_done = 1;
        pthread_cond_broadcast(&d->cond);
        return 0;
    case DSM_MSG_BARRIER: {
        int slot = (int)(h->arg & 1);
        if (++d->barrier_count[slot] == d->n) {
            d->barrier_count[slot] = 0;
            for (int j = 0; j < d->n; j++) {
                dsm_send(d, j, DSM_MSG_BARRIER_GO, 0, h->arg, 0, NULL, 0);
            }
        }
        return 0;
    }
    case DSM_MSG_BARRIER_GO:
        if (h->arg > d->barrier_released) {
            d->barrier_released = h->arg;
        }
        pthread_cond_broadcast(&d->cond);
        return 0;
    case DSM_MSG_BYE:
        atomic_fetch_or(&d->bye_mask, bit(src));
        pthread_cond_broadcast(&d->cond);
        return 0;
    default:
        snprintf(err, errlen, "unexpected %s", dsm_msg_type_name(h->type));
        return -1;
    }
}
