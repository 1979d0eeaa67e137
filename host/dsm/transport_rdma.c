/* transport_rdma.c - framed messages over RDMA (libibverbs + librdmacm).
 *
 * One RC queue pair per node pair, set up by transport_rdma_cm.c with the
 * same authenticated handshake and connection order as TCP.  Framing and
 * flow control: rdma_wire.h.
 *
 * Receiving: every connection has RDMA_RECV_DEPTH registered buffers
 * posted; a frame holding a whole message is delivered straight from its
 * buffer (pages are installed from there), which is then posted again.
 * One receive thread polls every completion queue, spinning for
 * RDMA_SPIN_NS after the last completion, then arms the queues and blocks
 * in epoll_wait() on their completion channels, the rdma_cm event channels
 * (a peer that disconnects) and a stop eventfd.
 *
 * Sending: send() copies the message into registered send buffers and
 * posts it.  Page payloads are copied rather than registered in place:
 * guest memory is under userfaultfd, and registering it would pin (and so
 * populate) pages the DSM must be able to leave missing or drop; and
 * send() returns before the hardware has read the data, while its caller
 * may change or drop the page at once.  A frame that finds no credit or
 * free send buffer waits, copied, in a per-peer backlog that the receive
 * thread posts, in order, as credits come back: send() never blocks for a
 * protocol message (a receive thread waiting for credits could never
 * receive them).  Application messages from other threads wait, bounded by
 * the I/O timeout, while the backlog holds more than RDMA_BACKLOG_APP_MAX.
 *
 * A completion in error or a disconnect event reports the peer down once
 * (peer_down) and moves its queue pair to the error state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "transport_rdma.h"

#define RDMA_SPIN_NS          20000
#define RDMA_BACKLOG_APP_MAX  (1024u * 1024u)
/* How long a stopping node waits for its last frames to be acknowledged. */
#define RDMA_STOP_DRAIN_MS    2000
#define EV_STOP    UINT32_MAX
#define EV_CM_OWN  0x1000u      /* | peer: the connection's own rdma_cm channel */
#define EV_CM_LSN  0x2000u      /* the listener's channel (ids it accepted) */

/* Set on the receive thread: its sends never wait (see above). */
static _Thread_local int on_rx_thread;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int rdma_post_recv(struct rdma_conn *c, unsigned i)
{
    struct ibv_sge sge = {
        .addr = (uintptr_t)rdma_recv_buf(c, i), .length = RDMA_SLOT_SIZE, .lkey = c->mr->lkey,
    };
    struct ibv_recv_wr wr = { .wr_id = i, .sg_list = &sge, .num_sge = 1 }, *bad;
    return ibv_post_recv(c->id->qp, &wr, &bad) ? -1 : 0;
}

int rdma_post_frame(struct rdma_conn *c, uint8_t kind, const void *a, size_t alen,
                    const void *b, size_t blen)
{
    unsigned slot = c->free_slots[--c->nfree];
    uint8_t *buf = rdma_send_buf(c, slot);
    struct rdma_frame_hdr fh;
    memset(&fh, 0, sizeof(fh));
    fh.magic = RDMA_FRAME_MAGIC;
    fh.kind = kind;
    fh.len = (uint32_t)(alen + blen);
    fh.credits = (uint16_t)rdma_credits_on_send(&c->cr);
    memcpy(buf, &fh, sizeof(fh));
    if (alen) {
        memcpy(buf + sizeof(fh), a, alen);
    }
    if (blen) {
        memcpy(buf + sizeof(fh) + alen, b, blen);
    }
    struct ibv_sge sge = {
        .addr = (uintptr_t)buf, .length = (uint32_t)(sizeof(fh) + alen + blen),
        .lkey = c->mr->lkey,
    };
    struct ibv_send_wr wr, *bad;
    memset(&wr, 0, sizeof(wr));
    wr.wr_id = RDMA_WR_SEND | slot;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.opcode = IBV_WR_SEND;
    wr.send_flags = IBV_SEND_SIGNALED;
    if (ibv_post_send(c->id->qp, &wr, &bad)) {
        c->free_slots[c->nfree++] = slot;
        return -1;
    }
    return 0;
}

static void peer_fail(struct rdma_transport *t, int j, const char *reason)
{
    struct rdma_conn *c = t->conns[j];
    if (!c || !atomic_exchange(&c->alive, 0)) {
        return;
    }
    if (t->epfd >= 0) {
        epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->comp->fd, NULL);
    }
    rdma_disconnect(c->id);   /* the queue pair fails; resources go in destroy() */
    pthread_mutex_lock(&c->lock);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (!atomic_load(&t->stopping)) {
        t->base.hooks.peer_down(t->base.hooks.ctx, j, reason);
    }
}

/* Posts what the backlog holds as far as credits and buffers allow, then a
 * credit update if one is due.  Under c->lock.  0 or -1 (post failed). */
static int flush_locked(struct rdma_conn *c)
{
    int drained = 0;
    while (c->bl_head && c->nfree && rdma_credits_can_send(&c->cr)) {
        struct rdma_backlog *b = c->bl_head;
        if (rdma_post_frame(c, b->kind, b->data, b->len, NULL, 0) < 0) {
            return -1;
        }
        c->bl_head = b->next;
        if (!c->bl_head) {
            c->bl_tail = NULL;
        }
        c->bl_bytes -= b->len;
        free(b);
        drained = 1;
    }
    if (drained) {
        pthread_cond_broadcast(&c->cond);
    }
    if (c->nfree && rdma_credits_want_update(&c->cr)) {
        return rdma_post_frame(c, RDMA_FK_CREDIT, NULL, 0, NULL, 0);
    }
    return 0;
}

static void deliver(struct rdma_transport *t, int j, const uint8_t *msg)
{
    struct dsm_msg_hdr h;
    char err[256], why[300];
    memcpy(&h, msg, sizeof(h));
    if (t->base.hooks.deliver(t->base.hooks.ctx, j, &h, msg + sizeof(h), err,
                              sizeof(err)) < 0) {
        snprintf(why, sizeof(why), "malformed message: %s", err);
        peer_fail(t, j, why);
    }
}

static void on_recv(struct rdma_transport *t, int j, struct rdma_conn *c, unsigned slot,
                    uint32_t byte_len)
{
    struct rdma_frame_hdr fh;
    char err[256], why[300];
    if (slot >= RDMA_RECV_DEPTH) {
        peer_fail(t, j, "receive completion for an unknown buffer");
        return;
    }
    const uint8_t *buf = rdma_recv_buf(c, slot);
    if (rdma_frame_parse(buf, byte_len, &fh, err, sizeof(err)) < 0) {
        snprintf(why, sizeof(why), "malformed frame: %s", err);
        peer_fail(t, j, why);
        return;
    }
    pthread_mutex_lock(&c->lock);
    int bad = rdma_credits_on_grant(&c->cr, fh.credits);
    pthread_mutex_unlock(&c->lock);
    if (bad) {
        peer_fail(t, j, "malformed frame: returns more credits than it could owe");
        return;
    }
    const uint8_t *data = buf + sizeof(fh);
    switch (fh.kind) {
    case RDMA_FK_MSG:
        if (c->reasm.len) {
            peer_fail(t, j, "malformed frame: a whole message inside a fragmented one");
            break;
        }
        deliver(t, j, data);
        break;
    case RDMA_FK_FRAG:
    case RDMA_FK_LAST: {
        int rc = rdma_reasm_add(&c->reasm, fh.kind == RDMA_FK_LAST, data, fh.len, err,
                                sizeof(err));
        if (rc < 0) {
            snprintf(why, sizeof(why), "malformed fragmented message: %s", err);
            peer_fail(t, j, why);
        } else if (rc == 1) {
            deliver(t, j, c->reasm.buf);
            c->reasm.len = 0;
        }
        break;
    }
    case RDMA_FK_CREDIT:
        break;
    default:
        peer_fail(t, j, "malformed frame: handshake data after the handshake");
        break;
    }
    if (!atomic_load(&c->alive)) {
        return;
    }
    if (rdma_post_recv(c, slot) < 0) {
        peer_fail(t, j, "cannot post a receive buffer again");
        return;
    }
    pthread_mutex_lock(&c->lock);
    rdma_credits_on_repost(&c->cr);
    int rc = flush_locked(c);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0) {
        peer_fail(t, j, "send failed: cannot post a send");
    }
}

/* Handles the completions waiting on peer j's queue; returns how many. */
static int poll_conn(struct rdma_transport *t, int j, struct rdma_conn *c)
{
    struct ibv_wc wc[16];
    int n = ibv_poll_cq(c->cq, 16, wc);
    if (n < 0) {
        peer_fail(t, j, "cannot poll the completion queue");
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (!atomic_load(&c->alive)) {
            continue;   /* flushed after the failure already reported */
        }
        if (wc[i].status != IBV_WC_SUCCESS) {
            char why[200];
            snprintf(why, sizeof(why), "%s failed: %s (peer gone or queue pair in error)",
                     (wc[i].wr_id & RDMA_WR_SEND) ? "send" : "receive",
                     ibv_wc_status_str(wc[i].status));
            peer_fail(t, j, why);
            continue;
        }
        if (wc[i].wr_id & RDMA_WR_SEND) {
            pthread_mutex_lock(&c->lock);
            c->free_slots[c->nfree++] = (unsigned)(wc[i].wr_id & (RDMA_WR_SEND - 1));
            if (c->nfree == RDMA_SEND_DEPTH) {
                pthread_cond_broadcast(&c->cond);   /* all sent: drain_sends() */
            }
            int rc = flush_locked(c);
            pthread_mutex_unlock(&c->lock);
            if (rc < 0) {
                peer_fail(t, j, "send failed: cannot post a send");
            }
        } else {
            on_recv(t, j, c, (unsigned)wc[i].wr_id, wc[i].byte_len);
        }
    }
    return n;
}

static int poll_all(struct rdma_transport *t)
{
    int work = 0;
    for (int j = 0; j < t->base.params.hs.num_nodes; j++) {
        struct rdma_conn *c = t->conns[j];
        if (c && atomic_load(&c->alive)) {
            work += poll_conn(t, j, c);
        }
    }
    return work;
}

static void cm_events(struct rdma_transport *t, struct rdma_event_channel *ch)
{
    struct rdma_cm_event *ev;
    while (ch && rdma_get_cm_event(ch, &ev) == 0) {
        enum rdma_cm_event_type type = ev->event;
        struct rdma_conn *c = ev->id ? ev->id->context : NULL;
        rdma_ack_cm_event(ev);
        if (c && c->peer >= 0 && t->conns[c->peer] == c &&
            (type == RDMA_CM_EVENT_DISCONNECTED || type == RDMA_CM_EVENT_DEVICE_REMOVAL ||
             type == RDMA_CM_EVENT_CONNECT_ERROR || type == RDMA_CM_EVENT_UNREACHABLE)) {
            /* What arrived before the disconnect comes first (a BYE: then
             * the close is expected), as a socket reads data before EOF. */
            while (atomic_load(&c->alive) && poll_conn(t, c->peer, c) > 0) {
            }
            char why[128];
            snprintf(why, sizeof(why), "connection closed by peer (rdma_cm: %s)",
                     rdma_event_str(type));
            peer_fail(t, c->peer, why);
        }
    }
}

static void *rdma_rx_main(void *arg)
{
    struct rdma_transport *t = arg;
    struct epoll_event evs[64];
    on_rx_thread = 1;
    long long spin_until = now_ns() + RDMA_SPIN_NS;
    while (!atomic_load(&t->stopping)) {
        if (poll_all(t)) {
            spin_until = now_ns() + RDMA_SPIN_NS;
            continue;
        }
        if (now_ns() < spin_until) {
            continue;
        }
        for (int j = 0; j < t->base.params.hs.num_nodes; j++) {
            struct rdma_conn *c = t->conns[j];
            if (c && atomic_load(&c->alive)) {
                ibv_req_notify_cq(c->cq, 0);
            }
        }
        if (poll_all(t)) {   /* what came before the queues were armed */
            spin_until = now_ns() + RDMA_SPIN_NS;
            continue;
        }
        int n = epoll_wait(t->epfd, evs, 64, -1);
        if (n < 0 && errno != EINTR) {
            dsm_transport_logf(&t->base, DSM_LOG_ERROR, "epoll_wait: %s", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            uint32_t tag = evs[i].data.u32;
            if (tag == EV_STOP) {
                return NULL;
            }
            if (tag == EV_CM_LSN) {
                cm_events(t, t->listen_ch);
            } else if (tag & EV_CM_OWN) {
                cm_events(t, t->conns[tag & 0xfff]->cm_ch);
            } else {
                struct rdma_conn *c = t->conns[tag];
                struct ibv_cq *cq;
                void *cctx;
                while (ibv_get_cq_event(c->comp, &cq, &cctx) == 0) {
                    ibv_ack_cq_events(cq, 1);
                }
            }
        }
        spin_until = now_ns() + RDMA_SPIN_NS;
    }
    return NULL;
}

static int watch(struct rdma_transport *t, int fd, uint32_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int rdma_start(struct dsm_transport *base, char *err, size_t errlen)
{
    struct rdma_transport *t = (struct rdma_transport *)base;
    int rc = rdma_connect_all(t, err, errlen);
    if (rc < 0) {
        return rc;
    }
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (t->epfd < 0 || t->stop_fd < 0 || watch(t, t->stop_fd, EV_STOP) < 0 ||
        (t->listen_ch && watch(t, t->listen_ch->fd, EV_CM_LSN) < 0)) {
        rc = -errno;
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(-rc));
        return rc;
    }
    for (int j = 0; j < base->params.hs.num_nodes; j++) {
        struct rdma_conn *c = t->conns[j];
        if (!c) {
            continue;
        }
        atomic_store(&c->alive, 1);
        if (watch(t, c->comp->fd, (uint32_t)j) < 0 ||
            (c->own_ch && watch(t, c->cm_ch->fd, EV_CM_OWN | (uint32_t)j) < 0)) {
            rc = -errno;
            snprintf(err, errlen, "epoll_ctl: %s", strerror(-rc));
            return rc;
        }
    }
    if ((rc = pthread_create(&t->rx_thread, NULL, rdma_rx_main, t)) != 0) {
        snprintf(err, errlen, "cannot start receive thread: %s", strerror(rc));
        return -rc;
    }
    t->rx_started = 1;
    return 0;
}

/* An application message from a thread other than the receive thread
 * waits while the backlog is long; 0, or -1 when the I/O timeout passed. */
static int wait_backlog_locked(struct rdma_transport *t, struct rdma_conn *c)
{
    struct timespec dl = dsm_deadline_ms(CLOCK_REALTIME, t->base.params.io_timeout_ms);
    while (atomic_load(&c->alive) && c->bl_bytes > RDMA_BACKLOG_APP_MAX) {
        if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) == ETIMEDOUT) {
            return c->bl_bytes > RDMA_BACKLOG_APP_MAX ? -1 : 0;
        }
    }
    return 0;
}

static int rdma_send(struct dsm_transport *base, int dst, const struct dsm_msg_hdr *h,
                     const void *payload)
{
    struct rdma_transport *t = (struct rdma_transport *)base;
    struct rdma_conn *c = dst >= 0 && dst < DSM_MAX_NODES ? t->conns[dst] : NULL;
    if (!c || !atomic_load(&c->alive)) {
        return -1;
    }
    size_t total = sizeof(*h) + h->payload_len;
    unsigned frames = rdma_frames_for(total);
    const char *fail = NULL;
    pthread_mutex_lock(&c->lock);
    if (h->type == DSM_MSG_APP && !on_rx_thread && wait_backlog_locked(t, c) < 0) {
        fail = "peer stopped reading (application messages pile up)";
    }
    size_t off = 0;
    for (unsigned k = 0; k < frames && !fail && atomic_load(&c->alive); k++) {
        size_t n = total - off < RDMA_FRAME_DATA_MAX ? total - off : RDMA_FRAME_DATA_MAX;
        uint8_t kind = frames == 1 ? RDMA_FK_MSG : k + 1 < frames ? RDMA_FK_FRAG : RDMA_FK_LAST;
        /* bytes [off, off + n) of header followed by payload */
        size_t alen = off < sizeof(*h) ? sizeof(*h) - off : 0;
        alen = alen < n ? alen : n;
        const uint8_t *a = (const uint8_t *)h + off;
        size_t blen = n - alen;
        const uint8_t *b = blen ? (const uint8_t *)payload + (off + alen - sizeof(*h)) : NULL;
        if (!c->bl_head && c->nfree && rdma_credits_can_send(&c->cr)) {
            if (rdma_post_frame(c, kind, a, alen, b, blen) < 0) {
                fail = "send failed: cannot post a send";
            }
        } else {
            struct rdma_backlog *bl = malloc(sizeof(*bl) + n);
            if (!bl) {
                fail = "send failed: out of memory for the backlog";
                break;
            }
            bl->next = NULL;
            bl->kind = kind;
            bl->len = (uint32_t)n;
            if (alen) {
                memcpy(bl->data, a, alen);
            }
            if (blen) {
                memcpy(bl->data + alen, b, blen);
            }
            if (c->bl_tail) {
                c->bl_tail->next = bl;
            } else {
                c->bl_head = bl;
            }
            c->bl_tail = bl;
            c->bl_bytes += n;
        }
        off += n;
    }
    int alive = atomic_load(&c->alive);
    pthread_mutex_unlock(&c->lock);
    if (fail) {
        peer_fail(t, dst, fail);
        return -1;
    }
    return alive ? 0 : -1;
}

/* What this node still has to send when it stops (its BYE among it) may
 * wait in the backlog or be in flight.  A socket delivers what it holds
 * before its FIN; here the disconnect would drop it, and the peer would
 * take the close for a failure.  So wait, while the receive thread still
 * posts the backlog as credits come back, until every frame was sent and
 * acknowledged, or the peer is gone, for at most RDMA_STOP_DRAIN_MS. */
static void drain_sends(struct rdma_transport *t)
{
    struct timespec dl = dsm_deadline_ms(CLOCK_REALTIME, RDMA_STOP_DRAIN_MS);
    for (int j = 0; j < DSM_MAX_NODES; j++) {
        struct rdma_conn *c = t->conns[j];
        if (!c || !atomic_load(&c->alive)) {
            continue;
        }
        pthread_mutex_lock(&c->lock);
        while (atomic_load(&c->alive) && (c->bl_head || c->nfree < RDMA_SEND_DEPTH)) {
            if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) == ETIMEDOUT) {
                break;
            }
        }
        pthread_mutex_unlock(&c->lock);
    }
}

static void rdma_stop(struct dsm_transport *base)
{
    struct rdma_transport *t = (struct rdma_transport *)base;
    if (t->rx_started && !atomic_load(&t->stopping)) {
        drain_sends(t);
    }
    atomic_store(&t->stopping, 1);
    if (t->rx_started) {
        uint64_t one = 1;
        if (write(t->stop_fd, &one, sizeof(one)) < 0) {
            /* cannot happen with an eventfd */
        }
        pthread_join(t->rx_thread, NULL);
        t->rx_started = 0;
    }
    for (int j = 0; j < DSM_MAX_NODES; j++) {
        struct rdma_conn *c = t->conns[j];
        if (c && atomic_exchange(&c->alive, 0)) {
            rdma_disconnect(c->id);
            pthread_mutex_lock(&c->lock);
            pthread_cond_broadcast(&c->cond);
            pthread_mutex_unlock(&c->lock);
        }
    }
}

static void rdma_destroy(struct dsm_transport *base)
{
    struct rdma_transport *t = (struct rdma_transport *)base;
    rdma_stop(base);
    for (int j = 0; j < DSM_MAX_NODES; j++) {
        rdma_conn_free(t->conns[j]);
        t->conns[j] = NULL;
    }
    if (t->listen_id) {
        rdma_destroy_id(t->listen_id);
    }
    if (t->listen_ch) {
        rdma_destroy_event_channel(t->listen_ch);
    }
    if (t->epfd >= 0) {
        close(t->epfd);
    }
    if (t->stop_fd >= 0) {
        close(t->stop_fd);
    }
    free(t);
}

static const struct dsm_transport_ops rdma_ops = {
    .name = "rdma",
    .start = rdma_start,
    .send = rdma_send,
    .stop = rdma_stop,
    .destroy = rdma_destroy,
};

struct dsm_transport *dsm_transport_rdma_new(const struct dsm_transport_params *p,
                                             const struct dsm_transport_hooks *hooks)
{
    struct rdma_transport *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->base.ops = &rdma_ops;
    t->base.hooks = *hooks;
    t->base.params = *p;
    t->epfd = -1;
    t->stop_fd = -1;
    return &t->base;
}
