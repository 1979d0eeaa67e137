/* transport_tcp.c - framed messages over TCP, one connection per node pair.
 *
 * Node i connects to every j < i and accepts every j > i.  Sends are
 * blocking writev() calls (bounded by SO_SNDTIMEO) under a per-peer lock;
 * one receive thread blocks in epoll_wait() over all peers and parses as
 * many frames as each recv() returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "transport_addr.h"
#include "transport_tcp.h"

#define TCP_RBUF_SIZE (512u * 1024u)
#define TCP_SOCKBUF   (4 * 1024 * 1024)

struct tcp_peer {
    int fd;
    atomic_int alive;
    pthread_mutex_t send_lock;
    uint8_t *rbuf;
    size_t rlen;
};

struct tcp_transport {
    struct dsm_transport base;
    int listen_fd;
    int epfd;
    int stop_fd;
    pthread_t rx_thread;
    int rx_started;
    atomic_int stopping;
    struct tcp_peer peers[DSM_MAX_NODES];
};

static void set_timeouts(int fd, int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void tune_socket(int fd)
{
    int one = 1, sz = TCP_SOCKBUF;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static int open_listener(struct tcp_transport *t, char *err, size_t errlen)
{
    const struct dsm_transport_params *p = &t->base.params;
    if (p->tcp_listen_fd >= 0) {
        t->listen_fd = p->tcp_listen_fd;
        return 0;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    int rc = dsm_resolve_addr(p->tcp_addrs[p->hs.self], &ss, &sslen, err, errlen);
    if (rc < 0) {
        return rc;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s", p->tcp_addrs[p->hs.self],
                 strerror(e));
        if (fd >= 0) {
            close(fd);
        }
        return -e;
    }
    t->listen_fd = fd;
    return 0;
}

/* Connects to node j and authenticates, again and again until the
 * deadline while the attempt ends before a verdict: the peer is not
 * listening yet, or it pushed this attempt out during a flood of bad
 * connections.  A refusal (a verdict) is final: -ECONNREFUSED; the
 * deadline: -ETIMEDOUT. */
static int connect_peer(struct tcp_transport *t, int j, long long deadline, char *err,
                        size_t errlen)
{
    const struct dsm_transport_params *p = &t->base.params;
    struct sockaddr_storage ss;
    socklen_t sslen;
    char why[256] = "";
    int rc = dsm_resolve_addr(p->tcp_addrs[j], &ss, &sslen, err, errlen);
    if (rc < 0) {
        return rc;
    }
    for (int attempt = 0;; attempt++) {
        if (attempt) {
            /* setup-time retry, not a data path */
            struct timespec ts = { 0, 20 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
        if (dsm_now_ms() >= deadline) {
            snprintf(err, errlen, "cannot connect to node %d at %s within %d ms: %s", j,
                     p->tcp_addrs[j], p->connect_timeout_ms, why[0] ? why : "no answer");
            rc = -ETIMEDOUT;
            break;
        }
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            snprintf(err, errlen, "socket: %s", strerror(-rc));
            break;
        }
        tune_socket(fd);
        set_timeouts(fd, p->connect_timeout_ms);
        if (connect(fd, (struct sockaddr *)&ss, sslen) < 0) {
            snprintf(why, sizeof(why), "%s", strerror(errno));
            close(fd);
            continue;
        }
        struct tcp_hs_conn conn = { fd, deadline };
        struct dsm_hs_io io = { .opaque = &conn, .send = tcp_hs_send, .recv = tcp_hs_recv };
        rc = dsm_handshake(&p->hs, &io, j, why, sizeof(why));
        if (rc == j) {
            t->peers[j].fd = fd;
            return 0;
        }
        close(fd);
        if (rc != DSM_HS_LOST) {
            snprintf(err, errlen, "handshake with node %d (%s): %s", j, p->tcp_addrs[j], why);
            rc = -ECONNREFUSED;
            break;
        }
        dsm_transport_logf(&t->base, DSM_LOG_INFO, "connecting to node %d again: %s", j, why);
    }
    return rc;
}

static void peer_fail(struct tcp_transport *t, int j, const char *reason)
{
    struct tcp_peer *pe = &t->peers[j];
    int was = atomic_exchange(&pe->alive, 0);
    if (!was) {
        return;
    }
    epoll_ctl(t->epfd, EPOLL_CTL_DEL, pe->fd, NULL);
    shutdown(pe->fd, SHUT_RDWR);   /* fd itself is closed in stop() */
    if (!atomic_load(&t->stopping)) {
        t->base.hooks.peer_down(t->base.hooks.ctx, j, reason);
    }
}

static void read_peer(struct tcp_transport *t, int j)
{
    struct tcp_peer *pe = &t->peers[j];
    char err[256];
    while (atomic_load(&pe->alive)) {
        size_t space = TCP_RBUF_SIZE - pe->rlen;
        ssize_t r = recv(pe->fd, pe->rbuf + pe->rlen, space, MSG_DONTWAIT);
        if (r == 0) {
            peer_fail(t, j, "connection closed by peer");
            return;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            snprintf(err, sizeof(err), "receive error: %s", strerror(errno));
            peer_fail(t, j, err);
            return;
        }
        pe->rlen += (size_t)r;
        size_t off = 0;
        for (;;) {
            long flen = dsm_frame_length(pe->rbuf + off, pe->rlen - off, err, sizeof(err));
            if (flen == 0) {
                break;
            }
            char why[300];
            if (flen < 0) {
                snprintf(why, sizeof(why), "malformed frame: %s", err);
                peer_fail(t, j, why);
                return;
            }
            struct dsm_msg_hdr h;
            memcpy(&h, pe->rbuf + off, sizeof(h));
            if (t->base.hooks.deliver(t->base.hooks.ctx, j, &h, pe->rbuf + off + sizeof(h), err,
                                      sizeof(err)) < 0) {
                snprintf(why, sizeof(why), "malformed message: %s", err);
                peer_fail(t, j, why);
                return;
            }
            off += (size_t)flen;
        }
        if (off) {
            memmove(pe->rbuf, pe->rbuf + off, pe->rlen - off);
            pe->rlen -= off;
        }
        if ((size_t)r < space) {
            return;   /* drained; epoll is level-triggered, so nothing is missed */
        }
    }
}

static void *tcp_rx_main(void *arg)
{
    struct tcp_transport *t = arg;
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(t->epfd, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            dsm_transport_logf(&t->base, DSM_LOG_ERROR, "epoll_wait: %s", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            int j = (int)evs[i].data.u32;
            if (j < 0 || j >= DSM_MAX_NODES) {
                return NULL;   /* stop event */
            }
            read_peer(t, j);
        }
    }
}

static int tcp_start(struct dsm_transport *base, char *err, size_t errlen)
{
    struct tcp_transport *t = (struct tcp_transport *)base;
    const struct dsm_transport_params *p = &base->params;
    long long deadline = dsm_now_ms() + p->connect_timeout_ms;
    int rc;
    if (p->hs.num_nodes > 1 && (rc = open_listener(t, err, errlen)) < 0) {
        return rc;
    }
    for (int j = 0; j < p->hs.self; j++) {
        if ((rc = connect_peer(t, j, deadline, err, errlen)) < 0) {
            return rc;
        }
    }
    if (p->hs.self + 1 < p->hs.num_nodes) {
        int fds[DSM_MAX_NODES];
        for (int j = 0; j < DSM_MAX_NODES; j++) {
            fds[j] = -1;
        }
        if ((rc = tcp_accept_peers(base, t->listen_fd, fds, deadline, err, errlen)) < 0) {
            return rc;
        }
        for (int j = p->hs.self + 1; j < p->hs.num_nodes; j++) {
            /* handshakes ran non-blocking; the data path blocks with timeouts */
            fcntl(fds[j], F_SETFL, fcntl(fds[j], F_GETFL) & ~O_NONBLOCK);
            tune_socket(fds[j]);
            t->peers[j].fd = fds[j];
        }
    }
    if (t->listen_fd >= 0) {
        close(t->listen_fd);
        t->listen_fd = -1;
    }
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (t->epfd < 0 || t->stop_fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(-rc));
        return rc;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stop_fd, &ev);
    for (int j = 0; j < p->hs.num_nodes; j++) {
        struct tcp_peer *pe = &t->peers[j];
        if (j == p->hs.self) {
            continue;
        }
        set_timeouts(pe->fd, p->io_timeout_ms);
        pe->rbuf = malloc(TCP_RBUF_SIZE);
        if (!pe->rbuf) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        atomic_store(&pe->alive, 1);
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t)j;
        epoll_ctl(t->epfd, EPOLL_CTL_ADD, pe->fd, &ev);
    }
    if ((rc = pthread_create(&t->rx_thread, NULL, tcp_rx_main, t)) != 0) {
        snprintf(err, errlen, "cannot start receive thread: %s", strerror(rc));
        return -rc;
    }
    t->rx_started = 1;
    return 0;
}

/* Application messages may only fill half of the send buffer: protocol
 * replies, sent by receive threads, must never block, or two receive
 * threads could each wait for the other to drain.  Waits only under
 * congestion, bounded by the I/O timeout. */
static int wait_headroom(struct tcp_transport *t, struct tcp_peer *pe, size_t len)
{
    int sndbuf = 0;
    socklen_t sl = sizeof(sndbuf);
    if (!atomic_load(&pe->alive)) {
        return 0;   /* tcp_send reports it */
    }
    if (getsockopt(pe->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) < 0 || sndbuf <= 0) {
        return 0;
    }
    long long deadline = 0;
    for (;;) {
        int queued = 0;
        if (ioctl(pe->fd, SIOCOUTQ, &queued) < 0 || (size_t)queued + len <= (size_t)sndbuf / 2 ||
            queued == 0) {
            return 0;
        }
        if (!deadline) {
            deadline = dsm_now_ms() + t->base.params.io_timeout_ms;
        }
        if (dsm_now_ms() > deadline || !atomic_load(&pe->alive)) {
            return -1;
        }
        struct timespec ts = { 0, 100 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static int tcp_send(struct dsm_transport *base, int dst, const struct dsm_msg_hdr *h,
                    const void *payload)
{
    struct tcp_transport *t = (struct tcp_transport *)base;
    struct tcp_peer *pe = &t->peers[dst];
    struct iovec iov[2] = {
        { (void *)h, sizeof(*h) },
        { (void *)payload, h->payload_len },
    };
    int niov = h->payload_len ? 2 : 1;
    size_t left = sizeof(*h) + h->payload_len;
    char why[128] = "";

    /* outside the lock: protocol sends must not queue behind a waiting app send */
    if (h->type == DSM_MSG_APP && wait_headroom(t, pe, left) < 0) {
        peer_fail(t, dst, "peer stopped reading (application messages pile up)");
        return -1;
    }
    pthread_mutex_lock(&pe->send_lock);
    if (!atomic_load(&pe->alive)) {
        pthread_mutex_unlock(&pe->send_lock);
        return -1;
    }
    struct iovec *v = iov;
    while (left) {
        struct msghdr mh = { .msg_iov = v, .msg_iovlen = (size_t)niov };
        ssize_t r = sendmsg(pe->fd, &mh, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            snprintf(why, sizeof(why), "send failed: %s",
                     (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ?
                     "peer stopped reading (send timeout)" : strerror(errno));
            break;
        }
        left -= (size_t)r;
        while (niov && (size_t)r >= v->iov_len) {
            r -= (ssize_t)v->iov_len;
            v++;
            niov--;
        }
        if (niov) {
            v->iov_base = (uint8_t *)v->iov_base + r;
            v->iov_len -= (size_t)r;
        }
    }
    pthread_mutex_unlock(&pe->send_lock);
    if (left) {
        peer_fail(t, dst, why);
        return -1;
    }
    return 0;
}

static void tcp_stop(struct dsm_transport *base)
{
    struct tcp_transport *t = (struct tcp_transport *)base;
    atomic_store(&t->stopping, 1);
    if (t->rx_started) {
        uint64_t one = 1;
        if (write(t->stop_fd, &one, sizeof(one)) < 0) {
            /* cannot happen with an eventfd; the join below would then hang */
        }
        pthread_join(t->rx_thread, NULL);
        t->rx_started = 0;
    }
    for (int j = 0; j < DSM_MAX_NODES; j++) {
        struct tcp_peer *pe = &t->peers[j];
        pthread_mutex_lock(&pe->send_lock);
        atomic_store(&pe->alive, 0);
        if (pe->fd >= 0) {
            close(pe->fd);
            pe->fd = -1;
        }
        pthread_mutex_unlock(&pe->send_lock);
    }
}

static void tcp_destroy(struct dsm_transport *base)
{
    struct tcp_transport *t = (struct tcp_transport *)base;
    tcp_stop(base);
    for (int j = 0; j < DSM_MAX_NODES; j++) {
        free(t->peers[j].rbuf);
        pthread_mutex_destroy(&t->peers[j].send_lock);
    }
    if (t->listen_fd >= 0) {
        close(t->listen_fd);
    }
    if (t->epfd >= 0) {
        close(t->epfd);
    }
    if (t->stop_fd >= 0) {
        close(t->stop_fd);
    }
    free(t);
}

static const struct dsm_transport_ops tcp_ops = {
    .name = "tcp",
    .start = tcp_start,
    .send = tcp_send,
    .stop = tcp_stop,
    .destroy = tcp_destroy,
};

struct dsm_transport *dsm_transport_tcp_new(const struct dsm_transport_params *p,
                                            const struct dsm_transport_hooks *hooks)
{
    struct tcp_transport *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->base.ops = &tcp_ops;
    t->base.hooks = *hooks;
    t->base.params = *p;
    t->listen_fd = -1;
    t->epfd = -1;
    t->stop_fd = -1;
    for (int j = 0; j < DSM_MAX_NODES; j++) {
        t->peers[j].fd = -1;
        pthread_mutex_init(&t->peers[j].send_lock, NULL);
    }
    return &t->base;
}
