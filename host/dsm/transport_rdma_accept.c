/* transport_rdma_accept.c - admitting peers on the RDMA listener.
 *
 * As for TCP (transport_tcp_accept.c), anyone who reaches the rdma_cm port
 * while a node waits for its peers can ask to connect, so a connection that
 * fails the handshake must cost little and harm nothing.  Each request is
 * accepted (with its own queue pair and buffers) and authenticated on a
 * thread of its own, with DSM_HS_TIMEOUT_MS to finish (a silent peer is
 * dropped then); at most RDMA_HS_MAX_PENDING run at once, and a new request
 * pushes out the oldest that has not authenticated.  A peer that fails is
 * disconnected and logged with its address and the reason (at most
 * REFUSALS_LOGGED_PER_SECOND lines a second, the rest counted), and the
 * node keeps waiting for the real peer until the connect deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport_rdma.h"

#define RDMA_HS_MAX_PENDING 16
#define REFUSALS_LOGGED_PER_SECOND 200

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
    if (peer < 0) {
        /* the refusal (or verdict) must reach the peer before reap()
         * disconnects, which would discard it if it is still queued */
        rdma_hs_flush(s->c, dsm_now_ms() + RDMA_FLUSH_MS);
    }
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
    struct rdma_conn *c = rdma_conn_new(id, ctx->t->listen_ch, 0);
    if (!c) {
        rdma_reject(id, NULL, 0);
        rdma_destroy_id(id);
        refuse(ctx, NULL, name, "out of memory");
        return;
    }
    struct rdma_conn_param p = rdma_conn_params();
    if (rdma_conn_setup(c, err, sizeof(err)) < 0) {
        rdma_reject(id, NULL, 0);
        refuse(ctx, c, name, err);
        return;
    }
    rdma_set_ack_timeout(id);
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

int rdma_accept_peers(struct rdma_transport *t, long long deadline, char *err, size_t errlen)
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

