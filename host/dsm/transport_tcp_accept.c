/* transport_tcp_accept.c - admitting peers on the listening socket.
 *
 * Anyone who can reach the port while a node waits for its peers can
 * connect, so a connection that fails the handshake must cost little and
 * harm nothing: it is closed and logged with its address and the reason,
 * and the node keeps waiting until the connect deadline.  Each incoming
 * connection runs its handshake on a thread of its own (so a slow or silent
 * one delays nobody), bounded by a per-connection deadline; at most
 * DSM_HS_MAX_PENDING run at once, and when a further connection waits, the
 * oldest one is pushed out.  A real peer whose attempt is pushed out
 * connects again (see connect_peer()).  At most REFUSALS_LOGGED_PER_SECOND
 * refusals a second are logged one by one; the rest are counted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_tcp.h"

struct accept_ctx;

struct hs_slot {
    struct tcp_hs_conn conn;     /* first: the handshake I/O's opaque */
    struct accept_ctx *ctx;
    pthread_t thread;
    int used;                    /* thread started and not joined yet */
    int done;                    /* handshake over (under ctx->lock) */
    int pushed_out;              /* under ctx->lock */
    int authed;                  /* knows the secret: never pushed out (under ctx->lock) */
    long long started;
    int peer;                    /* dsm_handshake() result */
    char name[64];
    char why[256];
};

struct accept_ctx {
    struct dsm_transport *t;
    pthread_mutex_t lock;        /* fds[], slot->done */
    int *fds;
    int wake[2];                 /* a finished handshake writes a byte */
    int refused;
    char last_refusal[512];
    /* log lines per second are bounded: a flood must not fill the disk */
    long long log_window;
    int logged, unlogged;
    struct hs_slot slots[DSM_HS_MAX_PENDING];
};

static int poll_until(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - dsm_now_ms();
        if (left <= 0) {
            return DSM_HS_IO_TIMEOUT;
        }
        struct pollfd pfd = { fd, events, 0 };
        int r = poll(&pfd, 1, (int)left);
        if (r > 0) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return DSM_HS_IO_CLOSED;
        }
    }
}

int tcp_hs_send(void *opaque, const void *buf, size_t len)
{
    struct tcp_hs_conn *c = opaque;
    const uint8_t *p = buf;
    while (len) {
        ssize_t r = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (poll_until(c->fd, POLLOUT, c->deadline) < 0) {
                return -1;
            }
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int tcp_hs_recv(void *opaque, void *buf, size_t len)
{
    struct tcp_hs_conn *c = opaque;
    uint8_t *p = buf;
    while (len) {
        ssize_t r = recv(c->fd, p, len, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = poll_until(c->fd, POLLIN, c->deadline);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return DSM_HS_IO_CLOSED;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

void tcp_peer_name(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "";
    snprintf(buf, len, "unknown address");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
        return;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
    }
}

/* Refuses, before authentication, an id this node does not accept now. */
static int admit(void *opaque, int peer, char *why, size_t whylen)
{
    struct hs_slot *s = opaque;
    struct accept_ctx *ctx = s->ctx;
    int self = ctx->t->params.hs.self, taken;
    if (peer < self) {
        snprintf(why, whylen, "node %d must wait for node %d to connect to it", peer, self);
        return -1;
    }
    pthread_mutex_lock(&ctx->lock);
    taken = ctx->fds[peer] >= 0;
    pthread_mutex_unlock(&ctx->lock);
    if (taken) {
        snprintf(why, whylen, "node %d is already connected", peer);
        return -1;
    }
    return 0;
}

/* Once a peer proved it knows the secret it is no longer pushed out; one
 * already pushed out stays out.  Decided under the lock push_out() takes. */
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

static void *handshake_main(void *arg)
{
    struct hs_slot *s = arg;
    struct accept_ctx *ctx = s->ctx;
    struct dsm_hs_io io = { .opaque = &s->conn, .send = tcp_hs_send, .recv = tcp_hs_recv,
                            .admit = admit, .authenticated = authenticated };
    int peer = dsm_handshake(&ctx->t->params.hs, &io, -1, s->why, sizeof(s->why));
    pthread_mutex_lock(&ctx->lock);
    s->peer = peer;
    s->done = 1;
    pthread_mutex_unlock(&ctx->lock);
    if (write(ctx->wake[1], "x", 1) < 0) {
        /* the pipe cannot fill: it holds at most one byte per slot */
    }
    return NULL;
}

#define REFUSALS_LOGGED_PER_SECOND 200

static void log_unlogged(struct accept_ctx *ctx)
{
    if (ctx->unlogged) {
        dsm_transport_logf(ctx->t, DSM_LOG_WARN, "refused %d more connection(s) in one second "
                           "without logging each; the last %s", ctx->unlogged,
                           ctx->last_refusal);
        ctx->unlogged = 0;
    }
}

static void refuse(struct accept_ctx *ctx, struct hs_slot *s, const char *why)
{
    long long now = dsm_now_ms();
    ctx->refused++;
    snprintf(ctx->last_refusal, sizeof(ctx->last_refusal), "from %s: %s", s->name, why);
    if (now - ctx->log_window >= 1000) {
        log_unlogged(ctx);
        ctx->log_window = now;
        ctx->logged = 0;
    }
    if (ctx->logged < REFUSALS_LOGGED_PER_SECOND) {
        ctx->logged++;
        dsm_transport_logf(ctx->t, DSM_LOG_WARN, "refused connection from %s: %s", s->name, why);
    } else {
        ctx->unlogged++;
    }
    close(s->conn.fd);
}

/* Joins a finished handshake and keeps or refuses its connection. */
static void reap(struct accept_ctx *ctx, struct hs_slot *s, int *remaining)
{
    pthread_join(s->thread, NULL);
    s->used = 0;
    if (s->peer < 0) {
        char why[400];
        if (s->pushed_out) {
            snprintf(why, sizeof(why), "pushed out after %lld ms (%d connections waiting to "
                     "authenticate): %s", dsm_now_ms() - s->started, DSM_HS_MAX_PENDING,
                     s->why);
        } else {
            snprintf(why, sizeof(why), "%s", s->why);
        }
        refuse(ctx, s, why);
        return;
    }
    pthread_mutex_lock(&ctx->lock);
    int dup = ctx->fds[s->peer] >= 0;
    if (!dup) {
        ctx->fds[s->peer] = s->conn.fd;
    }
    pthread_mutex_unlock(&ctx->lock);
    if (dup) {
        char why[64];
        snprintf(why, sizeof(why), "node %d is already connected", s->peer);
        refuse(ctx, s, why);
        return;
    }
    (*remaining)--;
    dsm_transport_logf(ctx->t, DSM_LOG_INFO, "node %d connected from %s", s->peer, s->name);
}

static void reap_finished(struct accept_ctx *ctx, int *remaining)
{
    char buf[DSM_HS_MAX_PENDING];
    while (read(ctx->wake[0], buf, sizeof(buf)) > 0) {
    }
    for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
        struct hs_slot *s = &ctx->slots[i];
        pthread_mutex_lock(&ctx->lock);
        int done = s->used && s->done;
        pthread_mutex_unlock(&ctx->lock);
        if (done) {
            reap(ctx, s, remaining);
        }
    }
}

/* Ends the oldest handshake that has not authenticated; 0 if there was one. */
static int push_out_oldest(struct accept_ctx *ctx)
{
    struct hs_slot *oldest = NULL;
    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
        struct hs_slot *s = &ctx->slots[i];
        if (s->used && !s->done && !s->authed && !s->pushed_out &&
            (!oldest || s->started < oldest->started)) {
            oldest = s;
        }
    }
    if (oldest) {
        oldest->pushed_out = 1;
        shutdown(oldest->conn.fd, SHUT_RDWR);   /* its handshake fails at once */
    }
    pthread_mutex_unlock(&ctx->lock);
    return oldest ? 0 : -1;
}

/* Starts the handshake of one new connection in a free slot. */
static void start_one(struct accept_ctx *ctx, struct hs_slot *s, int fd, long long deadline)
{
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    s->conn.fd = fd;
    s->started = dsm_now_ms();
    s->conn.deadline = s->started + DSM_HS_TIMEOUT_MS;
    if (s->conn.deadline > deadline) {
        s->conn.deadline = deadline;
    }
    tcp_peer_name(fd, s->name, sizeof(s->name));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = pthread_create(&s->thread, &attr, handshake_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        refuse(ctx, s, "cannot start a handshake thread");
        return;
    }
    s->used = 1;
}

static void waiting_for(struct accept_ctx *ctx, char *buf, size_t len)
{
    const struct dsm_hs_params *hs = &ctx->t->params.hs;
    size_t off = 0;
    buf[0] = 0;
    for (int j = hs->self + 1; j < hs->num_nodes && off < len; j++) {
        if (ctx->fds[j] < 0) {
            off += (size_t)snprintf(buf + off, len - off, "%s%d", off ? ", " : "", j);
        }
    }
}

int tcp_accept_peers(struct dsm_transport *t, int listen_fd, int *fds, long long deadline,
                     char *err, size_t errlen)
{
    const struct dsm_hs_params *hs = &t->params.hs;
    struct accept_ctx ctx = { .t = t, .fds = fds };
    int remaining = hs->num_nodes - hs->self - 1, rc = 0;

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
            waiting_for(&ctx, nodes, sizeof(nodes));
            int n = snprintf(err, errlen, "timed out after %d ms waiting for node(s) %s to "
                             "connect", t->params.connect_timeout_ms, nodes);
            if (ctx.refused && n >= 0 && (size_t)n < errlen) {
                snprintf(err + n, errlen - (size_t)n, " (%d connection(s) refused, the last "
                         "%s)", ctx.refused, ctx.last_refusal);
            }
            rc = -ETIMEDOUT;
            break;
        }
        struct hs_slot *free_slot = NULL;
        int leaving = 0;
        pthread_mutex_lock(&ctx.lock);
        for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
            struct hs_slot *s = &ctx.slots[i];
            if (!s->used) {
                free_slot = free_slot ? free_slot : s;
            } else if (s->pushed_out || s->done) {
                leaving = 1;       /* its thread ends (or ended): a slot frees soon */
            }
        }
        pthread_mutex_unlock(&ctx.lock);
        /* While full and one is already on its way out, only wait for it. */
        struct pollfd pfd[2] = { { ctx.wake[0], POLLIN, 0 }, { listen_fd, POLLIN, 0 } };
        int npfd = (free_slot || !leaving) ? 2 : 1;
        if (poll(pfd, (nfds_t)npfd, (int)left) <= 0 || npfd < 2 || !(pfd[1].revents & POLLIN)) {
            continue;
        }
        if (!free_slot) {
            if (push_out_oldest(&ctx) < 0) {
                /* every slot holds a peer that knows the secret: let the kernel queue */
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
            }
            continue;
        }
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            start_one(&ctx, free_slot, fd, deadline);
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            struct timespec ts = { 0, 10 * 1000 * 1000 };   /* out of descriptors: back off */
            nanosleep(&ts, NULL);
        }
    }
    /* Every peer is in, or time is up: end the handshakes still running. */
    for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
        struct hs_slot *s = &ctx.slots[i];
        if (s->used) {
            shutdown(s->conn.fd, SHUT_RDWR);
        }
    }
    for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
        struct hs_slot *s = &ctx.slots[i];
        if (s->used) {
            pthread_join(s->thread, NULL);
            s->used = 0;
            if (s->peer < 0 || fds[s->peer] >= 0) {
                refuse(&ctx, s, rc ? "connect deadline passed" : "every node is connected");
            } else {
                close(s->conn.fd);   /* authenticated just too late: the start failed */
            }
        }
    }
    log_unlogged(&ctx);
    close(ctx.wake[0]);
    close(ctx.wake[1]);
    pthread_mutex_destroy(&ctx.lock);
    return rc;
}
