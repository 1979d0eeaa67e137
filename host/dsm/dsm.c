/* dsm.c - instance lifecycle, fault thread, receive hook, public calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dsm_internal.h"
#include "uffd.h"

#define FAULT_THREAD_TICK_MS 100
#define STOP_WAIT_MS 5000

static const uint8_t pong_payload[DSM_PAGE_SIZE];

static pthread_mutex_t fail_reason_lock = PTHREAD_MUTEX_INITIALIZER;

/* A public call fails: returns -e.  errno is set to e as well, for callers
 * written when the calls returned -1 with errno (not part of dsm.h's
 * contract; new code uses the return value). */
static int fail(int e)
{
    errno = e;
    return -e;
}

void dsm_config_init(struct dsm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->tcp_listen_fd = -1;
    cfg->connect_timeout_ms = 10000;
    cfg->request_timeout_ms = 10000;
    cfg->shm_spin_ns = 0;   /* spinning only pays with spare cores (see README) */
    cfg->log_level = DSM_LOG_WARN;
}

int dsm_node_id(const struct dsm *d)
{
    return d->self;
}

int dsm_num_nodes(const struct dsm *d)
{
    return d->n;
}

static uint64_t live_peers_mask(struct dsm *d)
{
    uint64_t all = (d->n == 64) ? ~0ull : ((1ull << d->n) - 1);
    return all & ~(1ull << d->self);
}

/* Peers that failed without saying goodbye. */
static uint64_t failures(struct dsm *d)
{
    return atomic_load(&d->failed_mask) & ~atomic_load(&d->bye_mask);
}

void dsm_mark_failed(struct dsm *d, int node, const char *reason)
{
    uint64_t b = 1ull << node;
    if (node != d->self && (atomic_load(&d->bye_mask) & b)) {
        /* it said goodbye: closing the connection is expected */
        atomic_fetch_or(&d->reported_mask, b);
        atomic_fetch_or(&d->failed_mask, b);
        return;
    }
    pthread_mutex_lock(&fail_reason_lock);
    if (!(atomic_load(&d->failed_mask) & b)) {
        snprintf(d->fail_reason[node], sizeof(d->fail_reason[node]), "%s", reason);
        atomic_fetch_or(&d->failed_mask, b);
    }
    pthread_mutex_unlock(&fail_reason_lock);
    uint64_t one = 1;
    if (write(d->wake_fd, &one, sizeof(one)) < 0) {
        /* eventfd counter cannot overflow here */
    }
}

static void hook_peer_down(void *ctx, int peer, const char *reason)
{
    dsm_mark_failed(ctx, peer, reason);
}

static void hook_log(void *ctx, int level, const char *msg)
{
    dsm_logf(ctx, (enum dsm_log_level)level, "%s", msg);
}

int dsm_deliver(void *ctx, int src, const struct dsm_msg_hdr *h, const void *payload,
                char *err, size_t errlen)
{
    struct dsm *d = ctx;
    struct dsm_proto_limits lim = { d->self, d->n, d->total_pages, &d->homes };
    if (dsm_msg_validate(h, src, &lim, err, errlen) < 0) {
        return -1;
    }
    DSM_STAT_ADD(d, msgs_received, 1);
    DSM_STAT_ADD(d, bytes_received, sizeof(*h) + h->payload_len);
    switch (h->type) {
    case DSM_MSG_APP:
        /* No lock: the application may send from its callback. */
        DSM_STAT_ADD(d, app_received, 1);
        if (d->cb.app_message) {
            d->cb.app_message(d->cb.opaque, src, payload, h->payload_len);
        }
        return 0;
    case DSM_MSG_PING: {
        uint32_t reply = (uint32_t)(h->arg >> 32);
        if (reply > DSM_PAGE_SIZE) {
            snprintf(err, errlen, "PING asks for a %u byte reply", reply);
            return -1;
        }
        dsm_send(d, src, DSM_MSG_PONG, 0, h->arg & 0xffffffffu, 0, pong_payload, reply);
        return 0;
    }
    case DSM_MSG_PONG:
        pthread_mutex_lock(&d->lock);
        d->ping_seq_rx = h->arg;
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        return 0;
    default:
        break;
    }
    pthread_mutex_lock(&d->lock);
    int rc = dsm_dispatch(d, src, h, payload, err, errlen);
    dsm_drain_local(d);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* ---- fault thread ---------------------------------------------------- */

static void report_failures(struct dsm *d)
{
    for (;;) {
        uint64_t pending = atomic_load(&d->failed_mask) & ~atomic_load(&d->reported_mask);
        if (!pending) {
            return;
        }
        int node = __builtin_ctzll(pending);
        atomic_fetch_or(&d->reported_mask, 1ull << node);
        char reason[192];
        pthread_mutex_lock(&fail_reason_lock);
        snprintf(reason, sizeof(reason), "%s", d->fail_reason[node]);
        pthread_mutex_unlock(&fail_reason_lock);

        pthread_mutex_lock(&d->lock);
        for (int i = 0; i < d->ntracked; i++) {
            uint64_t p = d->tracked[i].page;
            dsm_logf(d, DSM_LOG_ERROR, "fault on page %llu (manager node %llu) cannot "
                     "complete: node %d failed", (unsigned long long)p,
                     (unsigned long long)dsm_home_of(&d->homes, p), node);
        }
        pthread_cond_broadcast(&d->cond);   /* barrier / write-update waiters give up */
        pthread_mutex_unlock(&d->lock);

        if (d->cb.peer_failed) {
            d->cb.peer_failed(d->cb.opaque, node, reason);
        } else {
            dsm_logf(d, DSM_LOG_ERROR, "node %d failed: %s; exiting", node, reason);
            exit(1);
        }
    }
}

static void check_timeouts(struct dsm *d)
{
    uint64_t now = dsm_now_ns(), limit = (uint64_t)d->cfg.request_timeout_ms * 1000000ull;
    int late_node = -1;
    uint64_t late_page = 0;
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < d->ntracked; i++) {
        uint64_t p = d->tracked[i].page;
        if (now - d->pages[p].fault_start_ns > limit) {
            late_node = dsm_home_of(&d->homes, p);
            late_page = p;
            break;
        }
    }
    pthread_mutex_unlock(&d->lock);
    if (late_node >= 0) {
        char why[160];
        snprintf(why, sizeof(why), "request for page %llu unanswered for %d ms",
                 (unsigned long long)late_page, d->cfg.request_timeout_ms);
        dsm_mark_failed(d, late_node, why);
    }
}

static void *fault_thread_main(void *arg)
{
    struct dsm *d = arg;
    struct uffd_msg msgs[32];
    struct pollfd pfd[2] = { { d->uffd, POLLIN, 0 }, { d->wake_fd, POLLIN, 0 } };
    long long next_tick = dsm_now_ms() + FAULT_THREAD_TICK_MS;

    for (;;) {
        int r = poll(pfd, 2, FAULT_THREAD_TICK_MS);
        if (r < 0 && errno != EINTR) {
            dsm_logf(d, DSM_LOG_ERROR, "poll on userfaultfd: %s", strerror(errno));
            break;
        }
        if (r > 0 && (pfd[0].revents & POLLIN)) {
            ssize_t got = read(d->uffd, msgs, sizeof(msgs));
            if (got > 0) {
                pthread_mutex_lock(&d->lock);
                for (size_t i = 0; i < (size_t)got / sizeof(msgs[0]); i++) {
                    if (msgs[i].event != UFFD_EVENT_PAGEFAULT) {
                        continue;
                    }
                    uint64_t fl = msgs[i].arg.pagefault.flags;
                    uintptr_t addr = (uintptr_t)msgs[i].arg.pagefault.address;
                    int is_write = (fl & (UFFD_PAGEFAULT_FLAG_WRITE | UFFD_PAGEFAULT_FLAG_WP)) != 0;
                    uint32_t tid = d->uffd_features.thread_id ?
                                   msgs[i].arg.pagefault.feat.ptid : 0;
                    dsm_handle_fault(d, addr, is_write, tid);
                }
                dsm_drain_local(d);
                pthread_mutex_unlock(&d->lock);
            }
        }
        if (r > 0 && (pfd[1].revents & POLLIN)) {
            uint64_t v;
            if (read(d->wake_fd, &v, sizeof(v)) < 0) {
                /* spurious */
            }
        }
        if (atomic_load(&d->stopping)) {
            break;
        }
        report_failures(d);
        if (dsm_now_ms() >= next_tick) {
            check_timeouts(d);
            report_failures(d);
            next_tick = dsm_now_ms() + FAULT_THREAD_TICK_MS;
        }
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------- */

static void free_instance(struct dsm *d)
{
    if (d->tcp_addrs) {
        for (int i = 0; i < d->n; i++) {
            free(d->tcp_addrs[i]);
        }
        free(d->tcp_addrs);
    }
    free(d->secret);
    free(d->pages);
    free(d->mpages);
    if (d->uffd >= 0) {
        close(d->uffd);
    }
    if (d->wake_fd >= 0) {
        close(d->wake_fd);
    }
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->wu_serial);
    free(d);
}

/* dsm_create() failing: the message is in err already. */
static struct dsm *create_failed(struct dsm *d, int e)
{
    if (d) {
        free_instance(d);
    }
    errno = e;
    return NULL;
}

struct dsm *dsm_create(const struct dsm_config *cfg, const struct dsm_callbacks *cb,
                       char *err, size_t errlen)
{
    if (!cfg) {
        snprintf(err, errlen, "no configuration");
        return create_failed(NULL, EINVAL);
    }
    if (cfg->num_nodes < 1 || cfg->num_nodes > DSM_MAX_NODES || cfg->node_id < 0 ||
        cfg->node_id >= cfg->num_nodes) {
        snprintf(err, errlen, "invalid node %d of %d (at most %d nodes)", cfg->node_id,
                 cfg->num_nodes, DSM_MAX_NODES);
        return create_failed(NULL, EINVAL);
    }
    if (cfg->transport != DSM_TRANSPORT_TCP && cfg->transport != DSM_TRANSPORT_SHM &&
        cfg->transport != DSM_TRANSPORT_RDMA) {
        snprintf(err, errlen, "unknown transport %d", (int)cfg->transport);
        return create_failed(NULL, EINVAL);
    }
    if (cfg->transport == DSM_TRANSPORT_TCP && !cfg->tcp_addrs && cfg->num_nodes > 1) {
        snprintf(err, errlen, "tcp transport needs tcp_addrs");
        return create_failed(NULL, EINVAL);
    }
    if (cfg->transport == DSM_TRANSPORT_RDMA && !cfg->rdma_addrs && cfg->num_nodes > 1) {
        snprintf(err, errlen, "rdma transport needs rdma_addrs");
        return create_failed(NULL, EINVAL);
    }
    if (cfg->secret_len && !cfg->secret) {
        snprintf(err, errlen, "secret_len %zu without a secret", cfg->secret_len);
        return create_failed(NULL, EINVAL);
    }
    struct dsm *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return create_failed(NULL, ENOMEM);
    }
    d->cfg = *cfg;
    if (cb) {
        d->cb = *cb;
    }
    d->self = cfg->node_id;
    d->n = cfg->num_nodes;
    d->homes.num_nodes = d->n;
    d->uffd = -1;
    d->wake_fd = -1;
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->wu_serial, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (d->cfg.connect_timeout_ms <= 0) {
        d->cfg.connect_timeout_ms = 10000;
    }
    if (d->cfg.request_timeout_ms <= 0) {
        d->cfg.request_timeout_ms = 10000;
    }
    /* Keep private copies of everything the caller passed by pointer.  The
     * listen socket is not ours until this succeeds. */
    d->cfg.tcp_listen_fd = -1;
    d->cfg.tcp_addrs = NULL;
    d->cfg.rdma_addrs = NULL;
    d->cfg.secret = NULL;
    /* the address list of the transport in use (d->tcp_addrs holds either) */
    const char *const *addrs = cfg->transport == DSM_TRANSPORT_TCP ? cfg->tcp_addrs :
                               cfg->transport == DSM_TRANSPORT_RDMA ? cfg->rdma_addrs : NULL;
    if (addrs) {
        d->tcp_addrs = calloc((size_t)d->n, sizeof(char *));
        for (int i = 0; d->tcp_addrs && i < d->n; i++) {
            d->tcp_addrs[i] = strdup(addrs[i] ? addrs[i] : "");
            if (!d->tcp_addrs[i]) {
                snprintf(err, errlen, "out of memory");
                return create_failed(d, ENOMEM);
            }
        }
        if (!d->tcp_addrs) {
            snprintf(err, errlen, "out of memory");
            return create_failed(d, ENOMEM);
        }
        if (cfg->transport == DSM_TRANSPORT_TCP) {
            d->cfg.tcp_addrs = (const char *const *)d->tcp_addrs;
        } else {
            d->cfg.rdma_addrs = (const char *const *)d->tcp_addrs;
        }
    }
    if (cfg->shm_name) {
        snprintf(d->shm_name, sizeof(d->shm_name), "%s", cfg->shm_name);
        d->cfg.shm_name = d->shm_name;
    }
    if (cfg->secret_len) {
        d->secret = malloc(cfg->secret_len);
        if (!d->secret) {
            snprintf(err, errlen, "out of memory");
            return create_failed(d, ENOMEM);
        }
        memcpy(d->secret, cfg->secret, cfg->secret_len);
        d->cfg.secret = d->secret;
    }
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->wake_fd < 0) {
        int e = errno;
        snprintf(err, errlen, "eventfd: %s", strerror(e));
        return create_failed(d, e);
    }
    int rc = dsm_uffd_open(&d->uffd_features, err, errlen);
    if (rc < 0) {
        return create_failed(d, -rc);
    }
    d->uffd = rc;
    d->cfg.tcp_listen_fd = cfg->tcp_listen_fd;
    return d;
}

int dsm_add_region(struct dsm *d, void *base, size_t size)
{
    return dsm_add_region_home(d, base, size, DSM_HOME_INTERLEAVE);
}

int dsm_add_region_home(struct dsm *d, void *base, size_t size, int home)
{
    if (!base || !size || ((uintptr_t)base | size) & (DSM_PAGE_SIZE - 1) ||
        (uintptr_t)base + size < (uintptr_t)base ||
        home < DSM_HOME_INTERLEAVE || home >= d->n) {
        return fail(EINVAL);
    }
    if (d->started || d->mpages) {
        return fail(EBUSY);
    }
    if (d->nregions >= DSM_MAX_REGIONS) {
        return fail(ENOSPC);
    }
    for (int i = 0; i < d->nregions; i++) {
        const struct dsm_region *r = &d->regions[i];
        if ((uint8_t *)base < r->base + r->size && r->base < (uint8_t *)base + size) {
            return fail(EINVAL);
        }
    }
    /* Page descriptors exist from here on, so policies can be set before start. */
    uint64_t npages = size / DSM_PAGE_SIZE;
    struct dsm_page *pages = realloc(d->pages, (d->total_pages + npages) * sizeof(*pages));
    if (!pages) {
        return fail(ENOMEM);
    }
    memset(pages + d->total_pages, 0, npages * sizeof(*pages));
    d->pages = pages;
    struct dsm_region *r = &d->regions[d->nregions++];
    r->base = base;
    r->size = size;
    r->first_page = d->total_pages;
    r->npages = npages;
    d->homes.r[d->nregions - 1] = (struct dsm_home_region){ r->first_page, npages, home };
    d->homes.nregions = d->nregions;
    d->total_pages += npages;
    return 0;
}

int dsm_prepare(struct dsm *d, char *err, size_t errlen)
{
    if (d->started || d->mpages) {
        snprintf(err, errlen, "already started");
        return -EBUSY;
    }
    if (!d->nregions) {
        snprintf(err, errlen, "no memory region registered");
        return -EINVAL;
    }
    d->homes.num_nodes = d->n;
    d->nmpages = dsm_home_count(&d->homes, d->self);
    /* A node may manage no page at all (every region homed elsewhere). */
    d->mpages = calloc(d->nmpages ? d->nmpages : 1, sizeof(*d->mpages));
    if (!d->mpages) {
        snprintf(err, errlen, "out of memory for %llu page descriptors",
                 (unsigned long long)d->total_pages);
        return -ENOMEM;
    }
    for (uint64_t i = 0; i < d->nmpages; i++) {
        d->mpages[i].owner = DSM_NO_OWNER;
    }
    for (int i = 0; i < d->nregions; i++) {
        int rc = dsm_uffd_register(d->uffd, d->regions[i].base, d->regions[i].size, err,
                                   errlen);
        if (rc < 0) {
            return rc;
        }
    }
    /* Memory this node is the home of starts here, Modified, as the zero page:
     * its first touch costs no fault at all (a write makes the private copy
     * in the kernel), and the manager knows this node as its owner. */
    for (int i = 0; i < d->nregions; i++) {
        const struct dsm_region *r = &d->regions[i];
        if (d->homes.r[i].home != d->self) {
            continue;
        }
        if (dsm_uffd_zero_range(d->uffd, r->base, r->size) < 0) {
            int e = errno;
            snprintf(err, errlen, "UFFDIO_ZEROPAGE [%p, +%zu): %s", (void *)r->base, r->size,
                     strerror(e));
            return -e;
        }
        for (uint64_t p = r->first_page; p < r->first_page + r->npages; p++) {
            d->pages[p].state = DSM_PS_MODIFIED;
            d->mpages[dsm_home_slot(&d->homes, d->self, p)].owner = (int8_t)d->self;
        }
    }
    if (!d->uffd_features.wp_unpopulated) {
        dsm_logf(d, DSM_LOG_INFO, "kernel lacks UFFD_FEATURE_WP_UNPOPULATED (not needed: "
                 "absent pages fault as missing)");
    }
    return 0;
}

int dsm_start(struct dsm *d, char *err, size_t errlen)
{
    int rc = dsm_prepare(d, err, errlen);
    if (rc < 0) {
        return fail(-rc);
    }

    struct dsm_transport_params tp;
    memset(&tp, 0, sizeof(tp));
    tp.hs.self = d->self;
    tp.hs.num_nodes = d->n;
    tp.hs.nregions = d->nregions;
    for (int i = 0; i < d->nregions; i++) {
        tp.hs.region_sizes[i] = d->regions[i].size;
    }
    tp.hs.secret = d->cfg.secret;
    tp.hs.secret_len = d->cfg.secret_len;
    tp.connect_timeout_ms = d->cfg.connect_timeout_ms;
    tp.io_timeout_ms = d->cfg.request_timeout_ms;
    tp.tcp_addrs = d->cfg.tcp_addrs;
    tp.tcp_listen_fd = d->cfg.tcp_listen_fd;
    tp.rdma_addrs = d->cfg.rdma_addrs;
    tp.shm_name = d->cfg.shm_name;
    tp.shm_spin_ns = d->cfg.shm_spin_ns;
    struct dsm_transport_hooks hooks = { d, dsm_deliver, hook_peer_down, hook_log };
    switch (d->cfg.transport) {
    case DSM_TRANSPORT_TCP:
        d->tr = dsm_transport_tcp_new(&tp, &hooks);
        break;
    case DSM_TRANSPORT_RDMA:
        d->tr = dsm_transport_rdma_new(&tp, &hooks);
        break;
    default:
        d->tr = dsm_transport_shm_new(&tp, &hooks);
        break;
    }
    if (!d->tr) {
        snprintf(err, errlen, "out of memory");
        return fail(ENOMEM);
    }
    d->cfg.tcp_listen_fd = -1;   /* now owned by the transport */
    if (d->n > 1 && (rc = d->tr->ops->start(d->tr, err, errlen)) < 0) {
        return fail(-rc);
    }
    if ((rc = pthread_create(&d->fault_thread, NULL, fault_thread_main, d)) != 0) {
        snprintf(err, errlen, "cannot start the fault thread: %s", strerror(rc));
        return fail(rc);
    }
    d->started = 1;
    return 0;
}

static int wait_locked(struct dsm *d, const struct timespec *deadline)
{
    return pthread_cond_timedwait(&d->cond, &d->lock, deadline);
}

/* d->cond waits on CLOCK_MONOTONIC */
static struct timespec deadline_in(int ms)
{
    return dsm_deadline_ms(CLOCK_MONOTONIC, ms);
}

void dsm_stop(struct dsm *d)
{
    if (!d->started) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    for (int j = 0; j < d->n; j++) {
        if (j != d->self) {
            dsm_send(d, j, DSM_MSG_BYE, 0, 0, 0, NULL, 0);
        }
    }
    struct timespec dl = deadline_in(STOP_WAIT_MS);
    while (((atomic_load(&d->bye_mask) | atomic_load(&d->failed_mask)) & live_peers_mask(d)) !=
           live_peers_mask(d)) {
        if (wait_locked(d, &dl) == ETIMEDOUT) {
            dsm_logf(d, DSM_LOG_WARN, "not every peer said goodbye within %d ms",
                     STOP_WAIT_MS);
            break;
        }
    }
    pthread_mutex_unlock(&d->lock);
    atomic_store(&d->stopping, 1);
    if (d->n > 1) {
        d->tr->ops->stop(d->tr);
    }
    uint64_t one = 1;
    if (write(d->wake_fd, &one, sizeof(one)) < 0) {
        /* cannot fail for an eventfd */
    }
    pthread_join(d->fault_thread, NULL);
    d->started = 0;
}

void dsm_destroy(struct dsm *d)
{
    if (!d) {
        return;
    }
    dsm_stop(d);
    if (d->tr) {
        d->tr->ops->destroy(d->tr);
    }
    for (int i = 0; i < d->nregions && d->mpages; i++) {
        dsm_uffd_unregister(d->uffd, d->regions[i].base, d->regions[i].size);
    }
    if (d->cfg.tcp_listen_fd >= 0) {
        close(d->cfg.tcp_listen_fd);
    }
    while (d->lq_head) {
        struct dsm_local_msg *m = d->lq_head;
        d->lq_head = m->next;
        free(m);
    }
    for (uint64_t i = 0; d->mpages && i < d->nmpages; i++) {
        struct dsm_mop *op = d->mpages[i].op;
        while (op) {
            struct dsm_mop *next = op->next;
            free(op->data);
            free(op);
            op = next;
        }
    }
    free_instance(d);
}

/* ---- services --------------------------------------------------------- */

int dsm_set_policy(struct dsm *d, void *addr, size_t len, enum dsm_policy policy)
{
    int ok;
    if (!len || (policy != DSM_POLICY_WRITE_INVALIDATE && policy != DSM_POLICY_WRITE_UPDATE) ||
        !d->pages || (uintptr_t)addr + len < (uintptr_t)addr) {
        return fail(EINVAL);
    }
    uint64_t first = dsm_page_index(d, addr, &ok);
    if (!ok) {
        return fail(EINVAL);
    }
    uint64_t last = dsm_page_index(d, (uint8_t *)addr + len - 1, &ok);
    if (!ok || last < first) {
        return fail(EINVAL);
    }
    pthread_mutex_lock(&d->lock);
    for (uint64_t p = first; p <= last; p++) {
        d->pages[p].policy = (uint8_t)policy;
    }
    pthread_mutex_unlock(&d->lock);
    return 0;
}

int dsm_write_update(struct dsm *d, void *addr, const void *data, size_t len)
{
    int ok;
    uint8_t *a = addr;
    const uint8_t *src = data;
    if (!len || !data || (uintptr_t)a + len < (uintptr_t)a) {
        return fail(EINVAL);
    }
    dsm_page_index(d, a, &ok);
    if (!ok) {
        return fail(EINVAL);
    }
    dsm_page_index(d, a + len - 1, &ok);
    if (!ok) {
        return fail(EINVAL);
    }
    if (!d->started) {
        return fail(ENOTCONN);
    }
    int rc = 0;
    pthread_mutex_lock(&d->wu_serial);
    while (len && rc == 0) {
        uint64_t p = dsm_page_index(d, a, &ok);
        size_t off = (uintptr_t)a & (DSM_PAGE_SIZE - 1);
        size_t chunk = DSM_PAGE_SIZE - off < len ? DSM_PAGE_SIZE - off : len;
        struct timespec dl = deadline_in(d->cfg.request_timeout_ms);
        pthread_mutex_lock(&d->lock);
        d->wu_done = 0;
        dsm_send(d, dsm_home_of(&d->homes, p), DSM_MSG_WU_REQ, p, off, 0, src, (uint32_t)chunk);
        dsm_drain_local(d);
        while (!d->wu_done) {
            if (failures(d) || wait_locked(d, &dl) == ETIMEDOUT) {
                rc = failures(d) ? -EPIPE : -ETIMEDOUT;
                break;
            }
        }
        pthread_mutex_unlock(&d->lock);
        if (rc == 0) {
            DSM_STAT_ADD(d, wu_updates, 1);
        }
        a += chunk;
        src += chunk;
        len -= chunk;
    }
    pthread_mutex_unlock(&d->wu_serial);
    return rc < 0 ? fail(-rc) : 0;
}

int dsm_send_app(struct dsm *d, int dst, const void *buf, size_t len)
{
    if (dst < 0 || dst >= d->n || dst == d->self || !len || !buf || len > DSM_APP_MSG_MAX) {
        return fail(EINVAL);
    }
    if (!d->started) {
        return fail(ENOTCONN);
    }
    if (atomic_load(&d->failed_mask) & (1ull << dst)) {
        return fail(EPIPE);
    }
    struct dsm_msg_hdr h;
    dsm_msg_init(&h, DSM_MSG_APP, d->self, 0, 0, 0, (uint32_t)len);
    DSM_STAT_ADD(d, app_sent, 1);
    DSM_STAT_ADD(d, msgs_sent, 1);
    DSM_STAT_ADD(d, bytes_sent, sizeof(h) + len);
    if (d->tr->ops->send(d->tr, dst, &h, buf) < 0) {
        return fail(EPIPE);
    }
    return 0;
}

int dsm_barrier(struct dsm *d, int timeout_ms)
{
    if (!d->started) {
        return fail(ENOTCONN);
    }
    if (timeout_ms <= 0) {
        timeout_ms = d->cfg.request_timeout_ms;
    }
    struct timespec dl = deadline_in(timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    uint64_t epoch = ++d->barrier_epoch;
    dsm_send(d, 0, DSM_MSG_BARRIER, 0, epoch, 0, NULL, 0);
    dsm_drain_local(d);
    while (d->barrier_released < epoch) {
        if (failures(d)) {
            rc = -EPIPE;
            break;
        }
        if (wait_locked(d, &dl) == ETIMEDOUT) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return rc < 0 ? fail(-rc) : 0;
}

int64_t dsm_ping(struct dsm *d, int node, uint32_t reply_len)
{
    struct timespec dl = deadline_in(d->cfg.request_timeout_ms);
    pthread_mutex_lock(&d->lock);
    uint64_t seq = (++d->ping_seq_tx) & 0xffffffffu;
    pthread_mutex_unlock(&d->lock);
    uint64_t t0 = dsm_now_ns();
    dsm_send(d, node, DSM_MSG_PING, 0, seq | ((uint64_t)reply_len << 32), 0, NULL, 0);
    pthread_mutex_lock(&d->lock);
    while (d->ping_seq_rx != seq) {
        if (failures(d) || wait_locked(d, &dl) == ETIMEDOUT) {
            int e = failures(d) ? EPIPE : ETIMEDOUT;
            pthread_mutex_unlock(&d->lock);
            return -e;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return (int64_t)(dsm_now_ns() - t0);
}
