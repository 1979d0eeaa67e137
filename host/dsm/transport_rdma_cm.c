/* transport_rdma_cm.c - RDMA connection setup: per-connection resources,
 * the handshake over the queue pair, connecting to lower nodes, the
 * listener.  Admitting higher nodes: transport_rdma_accept.c.
 *
 * Same rules as TCP (transport_tcp.c, transport_tcp_accept.c): node i
 * connects to every j < i and accepts every j > i.  Each connection gets
 * its resources and receive buffers before it is connected or accepted;
 * then both ends run dsm_handshake() with its bytes carried in RDMA_FK_HS
 * frames.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "transport_addr.h"
#include "transport_rdma.h"

#define RDMA_RESOLVE_MS     2000
#define RDMA_HS_REFUSED     (-100000)   /* connect_once(): a verdict, final */

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

struct rdma_conn *rdma_conn_new(struct rdma_cm_id *id, struct rdma_event_channel *ch,
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
int rdma_conn_setup(struct rdma_conn *c, char *err, size_t errlen)
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
void rdma_set_ack_timeout(struct rdma_cm_id *id)
{
    uint8_t timeout = 14;
    rdma_set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT, &timeout, sizeof(timeout));
}

struct rdma_conn_param rdma_conn_params(void)
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
    struct rdma_conn *c = rdma_conn_new(id, ch, 1);
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
            int src = rdma_conn_setup(c, err, sizeof(err));
            struct rdma_conn_param p = rdma_conn_params();
            if (src == 0) {
                rdma_set_ack_timeout(id);
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
    int rc = dsm_resolve_addr(addr, &dst, NULL, why, whylen);
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
    /* a refusal of ours must reach the peer before the disconnect */
    rdma_hs_flush(c, dsm_now_ms() + RDMA_FLUSH_MS);
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
    int rc = dsm_resolve_addr(p->rdma_addrs[j], &dst, NULL, err, errlen);
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

static int open_listener(struct rdma_transport *t, char *err, size_t errlen)
{
    const struct dsm_transport_params *p = &t->base.params;
    const char *addr = p->rdma_addrs[p->hs.self];
    struct sockaddr_storage ss;
    int rc = dsm_resolve_addr(addr, &ss, NULL, err, errlen);
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
    if (p->hs.self + 1 < p->hs.num_nodes &&
        (rc = rdma_accept_peers(t, deadline, err, errlen)) < 0) {
        return rc;
    }
    rdma_destroy_id(t->listen_id);
    t->listen_id = NULL;
    return 0;
}
