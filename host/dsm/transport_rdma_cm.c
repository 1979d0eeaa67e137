/* transport_rdma_cm.c - RDMA connection setup: rdma_cm, the handshake over
 * the queue pair, admitting peers on the listener.
 *
 * Same rules as TCP (transport_tcp.c, transport_tcp_accept.c): node i
 * connects to every j < i and accepts every j > i.  Each connection gets
 * its resources and receive buffers before it is connected or accepted;
 * then both ends run dsm_handshake() with its bytes carried in RDMA_FK_HS
 * frames.  On the listener, anyone reaching the port can ask to connect:
 * each request is accepted and authenticated on a thread of its own, with
 * DSM_HS_TIMEOUT_MS to finish; at most RDMA_HS_MAX_PENDING run at once,
 * the oldest unauthenticated one is pushed out for a new one; a peer that
 * fails is disconnected and logged with its address and the reason, and
 * the node keeps waiting for the real peer until the connect deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "transport_rdma.h"

#define RDMA_HS_MAX_PENDING 16
#define RDMA_RESOLVE_MS     2000
#define REFUSALS_LOGGED_PER_SECOND 200
#define RDMA_HS_REFUSED     (-100000)   /* connect_once(): a verdict, final */

static int split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon || colon == addr || (size_t)(colon - addr) >= hostlen || !colon[1] ||
        strlen(colon + 1) >= portlen) {
        return -1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {   /* [v6]:port */
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = 0;
    }
    strcpy(port, colon + 1);
    return 0;
}

static int resolve(const char *addr, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[256], port[32];
    struct addrinfo hints, *ai;
    if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0) {
        snprintf(err, errlen, "bad address '%s' (want host:port)", addr ? addr : "(null)");
        return -EINVAL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "cannot resolve '%s': %s", addr, gai_strerror(rc));
        return rc == EAI_MEMORY ? -ENOMEM : rc == EAI_AGAIN ? -EAGAIN : -EINVAL;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen < sizeof(*ss) ? ai->ai_addrlen : sizeof(*ss));
    freeaddrinfo(ai);
    return 0;
}

void rdma_peer_name(struct rdma_cm_id *id, char *buf, size_t len)
{
    struct sockaddr *sa = id ? rdma_get_peer_addr(id) : NULL;
    char host[INET6_ADDRSTRLEN] = "";
    snprintf(buf, len, "unknown address");
    if (sa && sa->sa_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
    } else if (sa && sa->sa_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
    }
}

static struct rdma_conn *conn_new(struct rdma_cm_id *id, struct rdma_event_channel *ch,
                                  int own_ch)
{
    struct rdma_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    c->id = id;
    c->cm_ch = ch;
    c->own_ch = own_ch;
    c->peer = -1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    rdma_credits_init(&c->cr);
    if (id) {
        id->context = c;
    }
    return c;
}

void rdma_conn_free(struct rdma_conn *c)
{
    if (!c) {
        return;
    }
    if (c->qp_made) {
        rdma_destroy_qp(c->id);
    }
    if (c->mr) {
        ibv_dereg_mr(c->mr);
    }
    if (c->cq) {
        ibv_destroy_cq(c->cq);
    }
    if (c->comp) {
        ibv_destroy_comp_channel(c->comp);
    }
    if (c->pd) {
        ibv_dealloc_pd(c->pd);
    }
    if (c->id) {
        rdma_destroy_id(c->id);
    }
    if (c->own_ch && c->cm_ch) {
        rdma_destroy_event_channel(c->cm_ch);
    }
    while (c->bl_head) {
        struct rdma_backlog *b = c->bl_head;
        c->bl_head = b->next;
        free(b);
    }
    free(c->area);
    free(c->reasm.buf);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

/* Protection domain, completion queue and channel, RC queue pair, the
 * registered buffers, every receive posted. */
static int conn_setup(struct rdma_conn *c, char *err, size_t errlen)
{
    struct ibv_context *ctx = c->id->verbs;
    size_t area = (size_t)(RDMA_RECV_DEPTH + RDMA_SEND_DEPTH) * RDMA_SLOT_SIZE;
    const char *what = "";
    if (!(c->pd = ibv_alloc_pd(ctx))) {
        what = "ibv_alloc_pd";
    } else if (!(c->comp = ibv_create_comp_channel(ctx))) {
        what = "ibv_create_comp_channel";
    } else if (!(c->cq = ibv_create_cq(ctx, (int)(RDMA_RECV_DEPTH + RDMA_SEND_DEPTH + 8), c,
                                       c->comp, 0))) {
        what = "ibv_create_cq";
    }
    if (!what[0]) {
        struct ibv_qp_init_attr qa;
        memset(&qa, 0, sizeof(qa));
        qa.send_cq = c->cq;
        qa.recv_cq = c->cq;
        qa.qp_type = IBV_QPT_RC;
        qa.cap.max_send_wr = RDMA_SEND_DEPTH + 1;
        qa.cap.max_recv_wr = RDMA_RECV_DEPTH + 1;
        qa.cap.max_send_sge = 1;
        qa.cap.max_recv_sge = 1;
        if (rdma_create_qp(c->id, c->pd, &qa)) {
            what = "rdma_create_qp";
        } else {
            c->qp_made = 1;
        }
    }
    if (!what[0]) {
        c->area = aligned_alloc(4096, area);
        c->reasm.buf = malloc(RDMA_MSG_MAX);
        if (!c->area || !c->reasm.buf) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        memset(c->area, 0, area);
        if (!(c->mr = ibv_reg_mr(c->pd, c->area, area, IBV_ACCESS_LOCAL_WRITE))) {
            int e = errno;
            snprintf(err, errlen, "cannot register %zu KiB of buffers: %s%s", area / 1024,
                     strerror(e), e == ENOMEM || e == EPERM ?
                     " (locked memory limit too low? see ulimit -l)" : "");
            return -(e ? e : ENOMEM);
        }
    }
    if (what[0]) {
        int e = errno ? errno : ENOMEM;
        snprintf(err, errlen, "%s: %s", what, strerror(e));
        return -e;
    }
    fcntl(c->comp->fd, F_SETFL, fcntl(c->comp->fd, F_GETFL) | O_NONBLOCK);
    for (unsigned i = 0; i < RDMA_RECV_DEPTH; i++) {
        if (rdma_post_recv(c, i) < 0) {
            snprintf(err, errlen, "ibv_post_recv failed");
            return -EIO;
        }
    }
    c->nfree = RDMA_SEND_DEPTH;
    for (unsigned i = 0; i < RDMA_SEND_DEPTH; i++) {
        c->free_slots[i] = RDMA_SEND_DEPTH - 1 - i;
    }
    return 0;
}

/* ---- handshake I/O over the queue pair ---- */

/* Handles one completion of the handshake phase, waiting until
 * c->hs_deadline.  0, or DSM_HS_IO_*. */
static int hs_complete_one(struct rdma_conn *c)
{
    for (;;) {
        struct ibv_wc wc;
        int n = ibv_poll_cq(c->cq, 1, &wc);
        if (n < 0) {
            return DSM_HS_IO_CLOSED;
        }
        if (n == 0) {
            if (ibv_req_notify_cq(c->cq, 0)) {
                return DSM_HS_IO_CLOSED;
            }
            if ((n = ibv_poll_cq(c->cq, 1, &wc)) < 0) {
                return DSM_HS_IO_CLOSED;
            }
        }
        if (n == 0) {
            long long left = c->hs_deadline - dsm_now_ms();
            if (left <= 0) {
                return DSM_HS_IO_TIMEOUT;
            }
            /* a connection of our own also ends on a disconnect event (the
             * queue pair itself hears nothing of the far end going away) */
            struct pollfd pfd[2] = { { c->comp->fd, POLLIN, 0 },
                                     { c->own_ch ? c->cm_ch->fd : -1, POLLIN, 0 } };
            if (poll(pfd, 2, (int)left) < 0 && errno != EINTR) {
                return DSM_HS_IO_CLOSED;
            }
            struct rdma_cm_event *ev;
            if (c->own_ch && rdma_get_cm_event(c->cm_ch, &ev) == 0) {
                enum rdma_cm_event_type type = ev->event;
                rdma_ack_cm_event(ev);
                if (type != RDMA_CM_EVENT_ESTABLISHED) {
                    snprintf(c->hs_why, sizeof(c->hs_why), "rdma_cm: %s", rdma_event_str(type));
                    return DSM_HS_IO_CLOSED;
                }
            }
            struct ibv_cq *cq;
            void *cctx;
            if (ibv_get_cq_event(c->comp, &cq, &cctx) == 0) {
                ibv_ack_cq_events(cq, 1);
            }
            continue;
        }
        if (wc.status != IBV_WC_SUCCESS) {
            snprintf(c->hs_why, sizeof(c->hs_why), "%s", ibv_wc_status_str(wc.status));
            return DSM_HS_IO_CLOSED;
        }
        if (wc.wr_id & RDMA_WR_SEND) {
            pthread_mutex_lock(&c->lock);
            c->free_slots[c->nfree++] = (unsigned)(wc.wr_id & (RDMA_WR_SEND - 1));
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        unsigned slot = (unsigned)wc.wr_id;
        struct rdma_frame_hdr fh;
        char why[200];
        if (slot >= RDMA_RECV_DEPTH ||
            rdma_frame_parse(rdma_recv_buf(c, slot), wc.byte_len, &fh, why, sizeof(why)) < 0) {
            snprintf(c->hs_why, sizeof(c->hs_why), "malformed frame: %s", why);
            return DSM_HS_IO_CLOSED;    /* the handshake fails */
        }
        if (fh.kind != RDMA_FK_HS) {
            snprintf(c->hs_why, sizeof(c->hs_why), "frame of kind %u during the handshake",
                     fh.kind);
            return DSM_HS_IO_CLOSED;
        }
        pthread_mutex_lock(&c->lock);
        int bad = rdma_credits_on_grant(&c->cr, fh.credits);
        pthread_mutex_unlock(&c->lock);
        if (c->hs_off) {
            memmove(c->hs_buf, c->hs_buf + c->hs_off, c->hs_len - c->hs_off);
            c->hs_len -= c->hs_off;
            c->hs_off = 0;
        }
        if (bad || fh.len > sizeof(c->hs_buf) - c->hs_len) {
            snprintf(c->hs_why, sizeof(c->hs_why), "%s", bad ? "too many credits returned" :
                     "more handshake data than a handshake holds");
            return DSM_HS_IO_CLOSED;
        }
        memcpy(c->hs_buf + c->hs_len, rdma_recv_buf(c, slot) + sizeof(fh), fh.len);
        c->hs_len += fh.len;
        if (rdma_post_recv(c, slot) < 0) {
            return DSM_HS_IO_CLOSED;
        }
        pthread_mutex_lock(&c->lock);
        rdma_credits_on_repost(&c->cr);
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
}

int rdma_hs_send(void *opaque, const void *buf, size_t len)
{
    struct rdma_conn *c = opaque;
    const uint8_t *p = buf;
    while (len) {
        size_t n = len < RDMA_FRAME_DATA_MAX ? len : RDMA_FRAME_DATA_MAX;
        pthread_mutex_lock(&c->lock);
        int ok = c->nfree > 0 && rdma_credits_can_send(&c->cr);
        if (ok && rdma_post_frame(c, RDMA_FK_HS, p, n, NULL, 0) < 0) {
            pthread_mutex_unlock(&c->lock);
            return -1;
        }
        pthread_mutex_unlock(&c->lock);
        if (!ok) {
            /* a handshake sends three frames; only a peer that never
             * answers can leave us without credits */
            if (hs_complete_one(c) < 0) {
                return -1;
            }
            continue;
        }
        p += n;
        len -= n;
    }
    return 0;
}

int rdma_hs_recv(void *opaque, void *buf, size_t len)
{
    struct rdma_conn *c = opaque;
    while (c->hs_len - c->hs_off < len) {
        int rc = hs_complete_one(c);
        if (rc < 0) {
            return rc;
        }
    }
    memcpy(buf, c->hs_buf + c->hs_off, len);
    c->hs_off += len;
    return 0;
}

/* ---- connecting to lower nodes ---- */

/* Waits for the next event on ch: 0 if it is `want`, else -1 with why. */
static int wait_event(struct rdma_event_channel *ch, enum rdma_cm_event_type want,
                      long long deadline, char *why, size_t whylen)
{
    for (;;) {
        long long left = deadline - dsm_now_ms();
        if (left <= 0) {
            snprintf(why, whylen, "rdma_cm: no %s in time", rdma_event_str(want));
            return -1;
        }
        struct pollfd pfd = { ch->fd, POLLIN, 0 };
        int r = poll(&pfd, 1, (int)left);
        if (r <= 0) {
            continue;
        }
        struct rdma_cm_event *ev;
        if (rdma_get_cm_event(ch, &ev)) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            snprintf(why, whylen, "rdma_get_cm_event: %s", strerror(errno));
            return -1;
        }
        enum rdma_cm_event_type got = ev->event;
        int status = ev->status;
        rdma_ack_cm_event(ev);
        if (got == want) {
            return 0;
        }
        snprintf(why, whylen, "rdma_cm: %s (status %d)", rdma_event_str(got), status);
        return -1;
    }
}

/* Ack timeout 4.096 us * 2^14 = 67 ms: with 7 retries, a peer host that
 * vanished without a disconnect is reported in about half a second. */
static void set_ack_timeout(struct rdma_cm_id *id)
{
    uint8_t timeout = 14;
    rdma_set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT, &timeout, sizeof(timeout));
}

static struct rdma_conn_param conn_param(void)
{
    struct rdma_conn_param p;
    memset(&p, 0, sizeof(p));
    p.retry_count = 7;
    p.rnr_retry_count = 7;   /* credits keep receive queues from running dry */
    return p;
}

/* Connects to dst (no handshake yet): 0 and *out, DSM_HS_LOST (why: not
 * there yet, may be tried again), or -errno (why). */
static int dial(const struct sockaddr_storage *dst, long long deadline, struct rdma_conn **out,
                char *why, size_t whylen)
{
    struct rdma_event_channel *ch = rdma_create_event_channel();
    struct rdma_cm_id *id = NULL;
    if (!ch) {
        snprintf(why, whylen, "rdma_create_event_channel: %s", strerror(errno));
        return -ENODEV;
    }
    fcntl(ch->fd, F_SETFL, fcntl(ch->fd, F_GETFL) | O_NONBLOCK);
    if (rdma_create_id(ch, &id, NULL, RDMA_PS_TCP)) {
        int e = errno;
        snprintf(why, whylen, "rdma_create_id: %s", strerror(e));
        rdma_destroy_event_channel(ch);
        return -e;
    }
    struct rdma_conn *c = conn_new(id, ch, 1);
    if (!c) {
        rdma_destroy_id(id);
        rdma_destroy_event_channel(ch);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    int rc = DSM_HS_LOST;
    if (rdma_resolve_addr(id, NULL, (struct sockaddr *)dst, RDMA_RESOLVE_MS)) {
        snprintf(why, whylen, "rdma_resolve_addr: %s", strerror(errno));
    } else if (wait_event(ch, RDMA_CM_EVENT_ADDR_RESOLVED, deadline, why, whylen) == 0) {
        if (rdma_resolve_route(id, RDMA_RESOLVE_MS)) {
            snprintf(why, whylen, "rdma_resolve_route: %s", strerror(errno));
        } else if (wait_event(ch, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline, why, whylen) == 0) {
            char err[256];
            int src = conn_setup(c, err, sizeof(err));
            struct rdma_conn_param p = conn_param();
            if (src == 0) {
                set_ack_timeout(id);
            }
            if (src < 0) {
                snprintf(why, whylen, "%s", err);
                rc = src;
            } else if (rdma_connect(id, &p)) {
                snprintf(why, whylen, "rdma_connect: %s", strerror(errno));
            } else if (wait_event(ch, RDMA_CM_EVENT_ESTABLISHED, deadline, why, whylen) == 0) {
                c->hs_deadline = deadline;
                *out = c;
                return 0;
            }
        }
    }
    rdma_conn_free(c);
    return rc;
}

int rdma_dial(const char *addr, long long deadline, struct rdma_conn **out, char *why,
              size_t whylen)
{
    struct sockaddr_storage dst;
    int rc = resolve(addr, &dst, why, whylen);
    return rc < 0 ? rc : dial(&dst, deadline, out, why, whylen);
}

/* One attempt: 0 connected, DSM_HS_LOST try again (why), RDMA_HS_REFUSED
 * (why), other -errno fatal (why). */
static int connect_once(struct rdma_transport *t, int j, const struct sockaddr_storage *dst,
                        long long deadline, struct rdma_conn **out, char *why, size_t whylen)
{
    struct rdma_conn *c = NULL;
    int rc = dial(dst, deadline, &c, why, whylen);
    if (rc < 0) {
        return rc;
    }
    struct dsm_hs_io io = { .opaque = c, .send = rdma_hs_send, .recv = rdma_hs_recv };
    rc = dsm_handshake(&t->base.params.hs, &io, j, why, whylen);
    if (rc == j) {
        c->peer = j;
        *out = c;
        return 0;
    }
    if (c->hs_why[0] && rc == DSM_HS_LOST) {
        size_t n = strlen(why);
        int room = (int)(whylen - n) - 4;
        if (room > 0) {
            snprintf(why + n, whylen - n, " (%.*s)", room, c->hs_why);
        }
    }
    rdma_disconnect(c->id);
    rdma_conn_free(c);
    return rc == DSM_HS_LOST ? rc : RDMA_HS_REFUSED;
}

static int connect_peer(struct rdma_transport *t, int j, long long deadline, char *err,
                        size_t errlen)
{
    const struct dsm_transport_params *p = &t->base.params;
    struct sockaddr_storage dst;
    char why[256] = "";
    int rc = resolve(p->rdma_addrs[j], &dst, err, errlen);
    if (rc < 0) {
        return rc;
    }
    for (int attempt = 0;; attempt++) {
        if (attempt) {
            struct timespec ts = { 0, 20 * 1000 * 1000 };   /* setup-time retry */
            nanosleep(&ts, NULL);
        }
        if (dsm_now_ms() >= deadline) {
            snprintf(err, errlen, "cannot connect to node %d at %s within %d ms: %s", j,
                     p->rdma_addrs[j], p->connect_timeout_ms, why[0] ? why : "no answer");
            return -ETIMEDOUT;
        }
        struct rdma_conn *c = NULL;
        rc = connect_once(t, j, &dst, deadline, &c, why, sizeof(why));
        if (rc == 0) {
            t->conns[j] = c;
            return 0;
        }
        if (rc == RDMA_HS_REFUSED) {
            snprintf(err, errlen, "handshake with node %d (%s): %s", j, p->rdma_addrs[j], why);
            return -ECONNREFUSED;
        }
        if (rc != DSM_HS_LOST) {
            snprintf(err, errlen, "connecting to node %d (%s): %s", j, p->rdma_addrs[j], why);
            return rc;
        }
        if (attempt % 50 == 0) {
            dsm_transport_logf(&t->base, DSM_LOG_INFO, "connecting to node %d again: %s", j,
                               why);
        }
    }
}

/* ---- admitting higher nodes ---- */

struct accept_ctx;

struct hs_slot {
    struct accept_ctx *ctx;
    struct rdma_conn *c;
    pthread_t thread;
    int used, done, pushed_out, authed;   /* done, pushed_out, authed: under ctx->lock */
    long long started;
    int peer;
    char name[64];
    char why[256];
};

struct accept_ctx {
    struct rdma_transport *t;
    pthread_mutex_t lock;
    int wake[2];
    int refused;
    char last_refusal[400];
    long long log_window;
    int logged, unlogged;
    struct hs_slot slots[RDMA_HS_MAX_PENDING];
};

static int admit(void *opaque, int peer, char *why, size_t whylen)
{
    struct hs_slot *s = opaque;
    struct rdma_transport *t = s->ctx->t;
    if (peer < t->base.params.hs.self) {
        snprintf(why, whylen, "node %d must wait for node %d to connect to it", peer,
                 t->base.params.hs.self);
        return -1;
    }
    pthread_mutex_lock(&s->ctx->lock);
    int taken = t->conns[peer] != NULL;
    pthread_mutex_unlock(&s->ctx->lock);
    if (taken) {
        snprintf(why, whylen, "node %d is already connected", peer);
        return -1;
    }
    return 0;
}

static int authenticated(void *opaque, int peer)
{
    struct hs_slot *s = opaque;
    (void)peer;
    pthread_mutex_lock(&s->ctx->lock);
    int out = s->pushed_out;
    s->authed = !out;
    pthread_mutex_unlock(&s->ctx->lock);
    return out ? -1 : 0;
}

static int slot_send(void *opaque, const void *buf, size_t len)
{
    return rdma_hs_send(((struct hs_slot *)opaque)->c, buf, len);
}

static int slot_recv(void *opaque, void *buf, size_t len)
{
    return rdma_hs_recv(((struct hs_slot *)opaque)->c, buf, len);
}

static void *handshake_main(void *arg)
{
    struct hs_slot *s = arg;
    struct accept_ctx *ctx = s->ctx;
    struct dsm_hs_io io = { .opaque = s, .send = slot_send, .recv = slot_recv,
                            .admit = admit, .authenticated = authenticated };
    int peer = dsm_handshake(&ctx->t->base.params.hs, &io, -1, s->why, sizeof(s->why));
    pthread_mutex_lock(&ctx->lock);
    s->peer = peer;
    s->done = 1;
    pthread_mutex_unlock(&ctx->lock);
    if (write(ctx->wake[1], "x", 1) < 0) {
        /* at most one byte per slot: the pipe cannot fill */
    }
    return NULL;
}

static void log_unlogged(struct accept_ctx *ctx)
{
    if (ctx->unlogged) {
        dsm_transport_logf(&ctx->t->base, DSM_LOG_WARN, "refused %d more RDMA connection(s) "
                           "in one second without logging each; the last %s", ctx->unlogged,
                           ctx->last_refusal);
        ctx->unlogged = 0;
    }
}

/* Logs a refusal and ends the connection. */
static void refuse(struct accept_ctx *ctx, struct rdma_conn *c, const char *name,
                   const char *why)
{
    long long now = dsm_now_ms();
    ctx->refused++;
    snprintf(ctx->last_refusal, sizeof(ctx->last_refusal), "from %s: %s", name, why);
    if (now - ctx->log_window >= 1000) {
        log_unlogged(ctx);
        ctx->log_window = now;
        ctx->logged = 0;
    }
    if (ctx->logged < REFUSALS_LOGGED_PER_SECOND) {
        ctx->logged++;
        dsm_transport_logf(&ctx->t->base, DSM_LOG_WARN, "refused RDMA connection from %s: %s",
                           name, why);
    } else {
        ctx->unlogged++;
    }
    if (c) {
        rdma_disconnect(c->id);
        rdma_conn_free(c);
    }
}

static void reap(struct accept_ctx *ctx, struct hs_slot *s, int *remaining)
{
    struct rdma_transport *t = ctx->t;
    pthread_join(s->thread, NULL);
    s->used = 0;
    if (s->peer < 0) {
        char why[700];
        if (s->pushed_out) {
            snprintf(why, sizeof(why), "pushed out after %lld ms (%d connections waiting to "
                     "authenticate): %s", dsm_now_ms() - s->started, RDMA_HS_MAX_PENDING,
                     s->why);
        } else if (s->c->hs_why[0]) {
            snprintf(why, sizeof(why), "%s (%s)", s->why, s->c->hs_why);
        } else {
            snprintf(why, sizeof(why), "%s", s->why);
        }
        refuse(ctx, s->c, s->name, why);
        return;
    }
    pthread_mutex_lock(&ctx->lock);
    int dup = t->conns[s->peer] != NULL;
    if (!dup) {
        s->c->peer = s->peer;
        t->conns[s->peer] = s->c;
    }
    pthread_mutex_unlock(&ctx->lock);
    if (dup) {
        char why[64];
        snprintf(why, sizeof(why), "node %d is already connected", s->peer);
        refuse(ctx, s->c, s->name, why);
        return;
    }
    (*remaining)--;
    dsm_transport_logf(&t->base, DSM_LOG_INFO, "node %d connected over RDMA from %s", s->peer,
                       s->name);
}

static void reap_finished(struct accept_ctx *ctx, int *remaining)
{
    char buf[RDMA_HS_MAX_PENDING];
    while (read(ctx->wake[0], buf, sizeof(buf)) > 0) {
    }
    for (int i = 0; i < RDMA_HS_MAX_PENDING; i++) {
        struct hs_slot *s = &ctx->slots[i];
        pthread_mutex_lock(&ctx->lock);
        int done = s->used && s->done;
        pthread_mutex_unlock(&ctx->lock);
        if (done) {
            reap(ctx, s, remaining);
        }
    }
}

/* Ends the oldest handshake that has not authenticated and reaps it. */
static void push_out_oldest(struct accept_ctx *ctx, int *remaining)
{
    struct hs_slot *oldest = NULL;
    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < RDMA_HS_MAX_PENDING; i++) {
        struct hs_slot *s = &ctx->slots[i];
        if (s->used && !s->done && !s->authed && !s->pushed_out &&
            (!oldest || s->started < oldest->started)) {
            oldest = s;
        }
    }
    if (oldest) {
        oldest->pushed_out = 1;
        rdma_disconnect(oldest->c->id);   /* its queue pair fails: the handshake ends */
    }
    pthread_mutex_unlock(&ctx->lock);
    if (oldest) {
        reap(ctx, oldest, remaining);
    }
}

/* A connection request: set it up, accept it, authenticate on a thread. */
static void on_request(struct accept_ctx *ctx, struct rdma_cm_id *id, long long deadline,
                       int *remaining)
{
    struct hs_slot *s = NULL;
    char name[64], err[256];
    rdma_peer_name(id, name, sizeof(name));
    for (int pass = 0; pass < 2 && !s; pass++) {
        for (int i = 0; i < RDMA_HS_MAX_PENDING && !s; i++) {
            if (!ctx->slots[i].used) {
                s = &ctx->slots[i];
            }
        }
        if (!s && pass == 0) {
            push_out_oldest(ctx, remaining);
        }
    }
    if (!s) {
        rdma_reject(id, NULL, 0);
        rdma_destroy_id(id);
        refuse(ctx, NULL, name, "every handshake slot holds an authenticated peer");
        return;
    }
    struct rdma_conn *c = conn_new(id, ctx->t->listen_ch, 0);
    if (!c) {
        rdma_reject(id, NULL, 0);
        rdma_destroy_id(id);
        refuse(ctx, NULL, name, "out of memory");
        return;
    }
    struct rdma_conn_param p = conn_param();
    if (conn_setup(c, err, sizeof(err)) < 0) {
        rdma_reject(id, NULL, 0);
        refuse(ctx, c, name, err);
        return;
    }
    set_ack_timeout(id);
    if (rdma_accept(id, &p)) {
        snprintf(err, sizeof(err), "rdma_accept: %s", strerror(errno));
        refuse(ctx, c, name, err);
        return;
    }
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    s->c = c;
    s->started = dsm_now_ms();
    c->hs_deadline = s->started + DSM_HS_TIMEOUT_MS;
    if (c->hs_deadline > deadline) {
        c->hs_deadline = deadline;
    }
    snprintf(s->name, sizeof(s->name), "%s", name);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = pthread_create(&s->thread, &attr, handshake_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        refuse(ctx, c, name, "cannot start a handshake thread");
        return;
    }
    s->used = 1;
}

/* Handles every event waiting on the listener's channel. */
static void listener_events(struct accept_ctx *ctx, long long deadline, int *remaining)
{
    struct rdma_transport *t = ctx->t;
    struct rdma_cm_event *ev;
    while (rdma_get_cm_event(t->listen_ch, &ev) == 0) {
        enum rdma_cm_event_type type = ev->event;
        struct rdma_cm_id *id = ev->id;
        rdma_ack_cm_event(ev);
        if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
            on_request(ctx, id, deadline, remaining);
        } else if (type == RDMA_CM_EVENT_DISCONNECTED || type == RDMA_CM_EVENT_CONNECT_ERROR ||
                   type == RDMA_CM_EVENT_UNREACHABLE || type == RDMA_CM_EVENT_REJECTED) {
            /* the queue pair fails: a handshake on it ends, an admitted peer is
             * reported down by the receive thread */
            if (id != t->listen_id) {
                rdma_disconnect(id);
            }
        }
    }
}

static void waiting_for(struct rdma_transport *t, char *buf, size_t len)
{
    const struct dsm_hs_params *hs = &t->base.params.hs;
    size_t off = 0;
    buf[0] = 0;
    for (int j = hs->self + 1; j < hs->num_nodes && off < len; j++) {
        if (!t->conns[j]) {
            off += (size_t)snprintf(buf + off, len - off, "%s%d", off ? ", " : "", j);
        }
    }
}

static int accept_peers(struct rdma_transport *t, long long deadline, char *err, size_t errlen)
{
    const struct dsm_hs_params *hs = &t->base.params.hs;
    struct accept_ctx ctx;
    int remaining = hs->num_nodes - hs->self - 1, rc = 0;
    memset(&ctx, 0, sizeof(ctx));
    ctx.t = t;
    if (pipe2(ctx.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        rc = -errno;
        snprintf(err, errlen, "pipe: %s", strerror(-rc));
        return rc;
    }
    pthread_mutex_init(&ctx.lock, NULL);
    while (remaining > 0) {
        reap_finished(&ctx, &remaining);
        if (remaining == 0) {
            break;
        }
        long long left = deadline - dsm_now_ms();
        if (left <= 0) {
            char nodes[256];
            waiting_for(t, nodes, sizeof(nodes));
            int n = snprintf(err, errlen, "timed out after %d ms waiting for node(s) %s to "
                             "connect", t->base.params.connect_timeout_ms, nodes);
            if (ctx.refused && n >= 0 && (size_t)n < errlen) {
                snprintf(err + n, errlen - (size_t)n, " (%d connection(s) refused, the last "
                         "%s)", ctx.refused, ctx.last_refusal);
            }
            rc = -ETIMEDOUT;
            break;
        }
        struct pollfd pfd[2] = { { ctx.wake[0], POLLIN, 0 }, { t->listen_ch->fd, POLLIN, 0 } };
        if (poll(pfd, 2, (int)left) > 0 && (pfd[1].revents & POLLIN)) {
            listener_events(&ctx, deadline, &remaining);
        }
    }
    for (int i = 0; i < RDMA_HS_MAX_PENDING; i++) {
        struct hs_slot *s = &ctx.slots[i];
        if (s->used) {
            rdma_disconnect(s->c->id);
        }
    }
    for (int i = 0; i < RDMA_HS_MAX_PENDING; i++) {
        struct hs_slot *s = &ctx.slots[i];
        if (s->used) {
            pthread_join(s->thread, NULL);
            s->used = 0;
            refuse(&ctx, s->c, s->name, rc ? "connect deadline passed" :
                   "every node is connected");
        }
    }
    log_unlogged(&ctx);
    close(ctx.wake[0]);
    close(ctx.wake[1]);
    pthread_mutex_destroy(&ctx.lock);
    return rc;
}

static int open_listener(struct rdma_transport *t, char *err, size_t errlen)
{
    const struct dsm_transport_params *p = &t->base.params;
    const char *addr = p->rdma_addrs[p->hs.self];
    struct sockaddr_storage ss;
    int rc = resolve(addr, &ss, err, errlen);
    if (rc < 0) {
        return rc;
    }
    if (!(t->listen_ch = rdma_create_event_channel())) {
        int e = errno;
        snprintf(err, errlen, "no RDMA device found (rdma_cm: %s)", strerror(e));
        return -ENODEV;
    }
    fcntl(t->listen_ch->fd, F_SETFL, fcntl(t->listen_ch->fd, F_GETFL) | O_NONBLOCK);
    if (rdma_create_id(t->listen_ch, &t->listen_id, NULL, RDMA_PS_TCP)) {
        int e = errno;
        snprintf(err, errlen, "rdma_create_id: %s", strerror(e));
        return -e;
    }
    if (rdma_bind_addr(t->listen_id, (struct sockaddr *)&ss)) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s%s", addr, strerror(e),
                 e == ENODEV || e == EADDRNOTAVAIL ?
                 " (no RDMA device has this address)" : "");
        return -e;
    }
    if (rdma_listen(t->listen_id, 64)) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(e));
        return -e;
    }
    return 0;
}

int rdma_connect_all(struct rdma_transport *t, char *err, size_t errlen)
{
    const struct dsm_transport_params *p = &t->base.params;
    long long deadline = dsm_now_ms() + p->connect_timeout_ms;
    int ndev = 0, rc;
    struct ibv_context **devs = rdma_get_devices(&ndev);
    if (!devs || ndev <= 0) {
        int e = errno;
        snprintf(err, errlen, "no RDMA device found (rdma_cm: %s)",
                 devs ? "no device" : strerror(e ? e : ENODEV));
        if (devs) {
            rdma_free_devices(devs);
        }
        return -ENODEV;
    }
    rdma_free_devices(devs);
    if (!p->rdma_addrs) {
        snprintf(err, errlen, "rdma transport needs rdma_addrs");
        return -EINVAL;
    }
    if ((rc = open_listener(t, err, errlen)) < 0) {
        return rc;
    }
    for (int j = 0; j < p->hs.self; j++) {
        if ((rc = connect_peer(t, j, deadline, err, errlen)) < 0) {
            return rc;
        }
    }
    if (p->hs.self + 1 < p->hs.num_nodes && (rc = accept_peers(t, deadline, err, errlen)) < 0) {
        return rc;
    }
    rdma_destroy_id(t->listen_id);
    t->listen_id = NULL;
    return 0;
}
