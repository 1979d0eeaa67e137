/* badconn.c - sends a node's listening port connections that must be refused.
 *
 *   dsm-badconn --addr HOST:PORT --kind KIND [--count N] [--parallel P]
 *               [--claim ID] [--secret S] [--duration-ms D] [--transport rdma]
 *   dsm-badconn --free-ports N          prints N free loopback ports
 *   dsm-badconn --default-rdma-addr     prints the first IPv4 address of an
 *                                       interface that is up, not loopback
 *
 * Kinds: garbage (4 KiB of random bytes), silent (connects, sends nothing),
 * secret (a full handshake with another secret), version (a hello of
 * another protocol version), cluster (a hello of another node count or
 * region size, alternately), dup (a correct hello and secret claiming a
 * node that is already connected: --claim), self (the same, claiming the
 * listener's own node id).  Hellos copy the listener's own
 * layout from the hello it sends first, so they fail for one reason only.
 * With --transport rdma the same connections go to the node's rdma_cm
 * port, the bytes carried in handshake frames (rdma_wire.h) over an RC
 * queue pair; one more kind there, frame: a 4 KiB frame of random bytes
 * (no valid frame header).
 *
 * Each connection checks, from this side, that the node refused it in the
 * expected way and then closed it (within 30 s).  With --duration-ms the
 * connections repeat until then (a flood) and only the closing is checked;
 * the flood ends early when the node stops listening (its cluster formed).
 * Exit 0 if every connection was refused and closed, else 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handshake.h"
#include "transport_rdma.h"

#define CLOSE_WAIT_MS 30000

static struct {
    const char *addr;
    const char *kind;
    const char *secret;
    int count, parallel, claim;
    long duration_ms;
    int rdma;
} opt = { .count = 1, .parallel = 1, .claim = 1, .secret = "test-secret" };

static struct addrinfo *g_ai;
static atomic_int g_next, g_ok, g_bad, g_listener_gone;
static long long g_until;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection to the node: a TCP socket, or an RDMA connection. */
struct bconn {
    int fd;
    struct rdma_conn *rc;
};

static int connect_tcp(void);

static int connect_rdma(struct bconn *bc)
{
    char why[256];
    for (int i = 0; i < (g_until ? 1 : 3000); i++) {
        int rc = rdma_dial(opt.addr, now_ms() + 5000, &bc->rc, why, sizeof(why));
        if (rc == 0) {
            return 0;
        }
        if (rc != DSM_HS_LOST) {
            fprintf(stderr, "rdma: %s\n", why);
            errno = -rc;
            return -1;
        }
        /* rejected: not listening (yet, or any more) */
        errno = ECONNREFUSED;
        if (g_until) {
            break;
        }
        usleep(20000);
    }
    return -1;
}

static int connect_node(struct bconn *bc)
{
    bc->fd = -1;
    bc->rc = NULL;
    if (opt.rdma) {
        return connect_rdma(bc);
    }
    bc->fd = connect_tcp();
    return bc->fd < 0 ? -1 : 0;
}

static void close_conn(struct bconn *bc)
{
    if (bc->rc) {
        rdma_disconnect(bc->rc->id);
        rdma_conn_free(bc->rc);
    } else {
        close(bc->fd);
    }
}

static int connect_tcp(void)
{
    /* the node may still be starting; a flood ends when the node stops listening */
    for (int i = 0; i < (g_until ? 1 : 3000); i++) {
        int fd = socket(g_ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return -1;
        }
        if (connect(fd, g_ai->ai_addr, g_ai->ai_addrlen) == 0) {
            return fd;
        }
        int saved = errno;
        close(fd);
        errno = saved;
        if (g_until) {
            break;
        }
        usleep(20000);
    }
    return -1;
}

static int send_all(struct bconn *bc, const void *buf, size_t len)
{
    if (bc->rc) {
        bc->rc->hs_deadline = now_ms() + CLOSE_WAIT_MS;
        return rdma_hs_send(bc->rc, buf, len);
    }
    return send(bc->fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int recv_all(struct bconn *bc, void *buf, size_t len)
{
    int fd = bc->fd;
    uint8_t *p = buf;
    if (bc->rc) {
        bc->rc->hs_deadline = now_ms() + CLOSE_WAIT_MS;
        return rdma_hs_recv(bc->rc, buf, len) ? -1 : 0;
    }
    while (len) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, CLOSE_WAIT_MS) <= 0) {
            return -1;
        }
        ssize_t r = recv(fd, p, len, 0);
        if (r <= 0) {
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* 0 once the node closed the connection (EOF or reset), -1 if it kept it. */
static int wait_closed(struct bconn *bc)
{
    int fd = bc->fd;
    uint8_t buf[4096];
    long long end = now_ms() + CLOSE_WAIT_MS;
    if (bc->rc) {
        /* until the node disconnects: the queue pair fails or rdma_cm says so */
        bc->rc->hs_deadline = end;
        for (;;) {
            int rc = rdma_hs_recv(bc->rc, buf, 1);
            if (rc == DSM_HS_IO_CLOSED) {
                return 0;
            }
            if (rc == DSM_HS_IO_TIMEOUT) {
                return -1;
            }
        }
    }
    for (;;) {
        long long left = end - now_ms();
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            return -1;
        }
        if (recv(fd, buf, sizeof(buf), 0) <= 0) {
            return 0;
        }
    }
}

/* The handshake I/O for dsm_handshake(): the listener's hello, read
 * already, is handed out first. */
struct replay {
    struct bconn *bc;
    const struct dsm_hello *first;
    int used;
};

static int replay_send(void *o, const void *b, size_t n)
{
    return send_all(((struct replay *)o)->bc, b, n);
}

static int replay_recv(void *o, void *b, size_t n)
{
    struct replay *r = o;
    if (!r->used && n == sizeof(*r->first)) {
        r->used = 1;
        memcpy(b, r->first, n);
        return 0;
    }
    return recv_all(r->bc, b, n) ? DSM_HS_IO_CLOSED : 0;
}

static void params_from(const struct dsm_hello *h, struct dsm_hs_params *p, const char *secret)
{
    memset(p, 0, sizeof(*p));
    p->self = opt.claim;
    p->num_nodes = h->num_nodes;
    p->nregions = h->nregions < DSM_MAX_REGIONS ? h->nregions : DSM_MAX_REGIONS;
    for (int i = 0; i < p->nregions; i++) {
        p->region_sizes[i] = h->region_sizes[i];
    }
    p->secret = secret;
    p->secret_len = strlen(secret);
}

/* A hello that differs from a correct one in one field; the node must
 * answer with a refusal naming `expect`. */
static int bad_hello(struct bconn *bc, const struct dsm_hello *theirs, int variant)
{
    struct dsm_hello mine = *theirs;
    struct dsm_auth auth;
    const char *expect;
    mine.node_id = (uint16_t)opt.claim;
    if (getrandom(mine.nonce, sizeof(mine.nonce), 0) < 0) {
        return -1;
    }
    if (!strcmp(opt.kind, "version")) {
        mine.version++;
        expect = "protocol version differs";
    } else if (variant & 1) {
        mine.num_nodes++;
        expect = "number of nodes differs";
    } else {
        mine.region_sizes[0] += 4096;
        expect = "size of region 0 differs";
    }
    memset(&auth, 0, sizeof(auth));   /* what a refused peer still sends */
    if (send_all(bc, &mine, sizeof(mine)) < 0 || send_all(bc, &auth, sizeof(auth)) < 0 ||
        recv_all(bc, &auth, sizeof(auth)) < 0) {
        fprintf(stderr, "%s: no refusal from the node\n", opt.kind);
        return -1;
    }
    auth.reason[sizeof(auth.reason) - 1] = 0;
    if (!auth.refused || !strstr(auth.reason, expect)) {
        fprintf(stderr, "%s: expected a refusal naming '%s', got refused=%u '%s'\n", opt.kind,
                expect, auth.refused, auth.reason);
        return -1;
    }
    return 0;
}

/* A frame whose header is random bytes, posted as it is. */
static int send_raw_frame(struct rdma_conn *c)
{
    pthread_mutex_lock(&c->lock);
    int rc = -1;
    if (c->nfree) {
        unsigned slot = c->free_slots[--c->nfree];
        uint8_t *buf = rdma_send_buf(c, slot);
        if (getrandom(buf, 4096, 0) == 4096) {
            struct ibv_sge sge = { (uintptr_t)buf, 4096, c->mr->lkey };
            struct ibv_send_wr wr, *bad;
            memset(&wr, 0, sizeof(wr));
            wr.wr_id = RDMA_WR_SEND | slot;
            wr.sg_list = &sge;
            wr.num_sge = 1;
            wr.opcode = IBV_WR_SEND;
            wr.send_flags = IBV_SEND_SIGNALED;
            rc = ibv_post_send(c->id->qp, &wr, &bad) ? -1 : 0;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int one_connection(int i)
{
    struct bconn conn, *bc = &conn;
    int got_conn = connect_node(&conn) == 0, rc = 0;
    /* A flood ends when the node closes its listener: refused, or reset when
     * the close caught this connection half-way through its handshake. */
    if (!got_conn && g_until && (errno == ECONNREFUSED || errno == ECONNRESET)) {
        atomic_store(&g_listener_gone, 1);
        return 0;
    }
    if (!got_conn) {
        fprintf(stderr, "cannot connect to %s: %s\n", opt.addr, strerror(errno));
        return -1;
    }
    if (!strcmp(opt.kind, "frame")) {
        if (!conn.rc || send_raw_frame(conn.rc) < 0) {
            rc = -1;
        }
    } else if (!strcmp(opt.kind, "garbage")) {
        uint8_t junk[4096];
        if (getrandom(junk, sizeof(junk), 0) < 0) {
            rc = -1;
        }
        send_all(bc, junk, sizeof(junk));   /* the node may close before reading it all */
    } else if (strcmp(opt.kind, "silent")) {
        struct dsm_hello theirs;
        if (recv_all(bc, &theirs, sizeof(theirs)) < 0) {
            fprintf(stderr, "%s: no hello from the node\n", opt.kind);
            close_conn(bc);
            return -1;
        }
        if (!strcmp(opt.kind, "version") || !strcmp(opt.kind, "cluster")) {
            rc = bad_hello(bc, &theirs, i);
        } else {
            int right_secret = !strcmp(opt.kind, "dup") || !strcmp(opt.kind, "self");
            const char *expect = !strcmp(opt.kind, "dup") ? "already connected" :
                                 !strcmp(opt.kind, "self") ? "claims node id" : "secret differs";
            struct dsm_hs_params p;
            struct replay r = { bc, &theirs, 0 };
            struct dsm_hs_io io = { .opaque = &r, .send = replay_send, .recv = replay_recv };
            char err[256];
            if (!strcmp(opt.kind, "self")) {
                opt.claim = theirs.node_id;
            }
            params_from(&theirs, &p, right_secret ? opt.secret : "not-the-secret");
            int got = dsm_handshake(&p, &io, theirs.node_id, err, sizeof(err));
            if (got >= 0 || !strstr(err, expect)) {
                fprintf(stderr, "%s: expected a refusal naming '%s', got %d '%s'\n", opt.kind,
                        expect, got, err);
                rc = -1;
            }
        }
    }
    if (wait_closed(bc) < 0) {
        fprintf(stderr, "%s: the node kept the connection open\n", opt.kind);
        rc = -1;
    }
    close_conn(bc);
    return rc;
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        int i = atomic_fetch_add(&g_next, 1);
        if (g_until ? now_ms() >= g_until || atomic_load(&g_listener_gone) : i >= opt.count) {
            return NULL;
        }
        int rc = one_connection(i);
        if (!atomic_load(&g_listener_gone) || rc) {
            atomic_fetch_add(rc ? &g_bad : &g_ok, 1);
        }
    }
}

/* The first IPv4 address of an interface that is up and not loopback. */
static int print_default_rdma_addr(void)
{
    struct ifaddrs *ifa, *i;
    char buf[INET_ADDRSTRLEN] = "10.0.2.15";
    if (getifaddrs(&ifa) == 0) {
        for (i = ifa; i; i = i->ifa_next) {
            if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
                !(i->ifa_flags & IFF_LOOPBACK)) {
                inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf,
                          sizeof(buf));
                break;
            }
        }
        freeifaddrs(ifa);
    }
    printf("%s\n", buf);
    return 0;
}

static int free_ports(int n)
{
    int fds[64];
    for (int i = 0; i < n && i < 64; i++) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &len) < 0) {
            perror("bind");
            return 1;
        }
        printf("%d\n", ntohs(a.sin_port));
    }
    for (int i = 0; i < n && i < 64; i++) {
        close(fds[i]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "addr", 1, 0, 'a' }, { "kind", 1, 0, 'k' }, { "count", 1, 0, 'n' },
        { "parallel", 1, 0, 'p' }, { "claim", 1, 0, 'c' }, { "secret", 1, 0, 's' },
        { "duration-ms", 1, 0, 'd' }, { "free-ports", 1, 0, 'f' }, { "transport", 1, 0, 'x' },
        { "default-rdma-addr", 0, 0, 'A' }, { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'a': opt.addr = optarg; break;
        case 'k': opt.kind = optarg; break;
        case 'n': opt.count = atoi(optarg); break;
        case 'p': opt.parallel = atoi(optarg); break;
        case 'c': opt.claim = atoi(optarg); break;
        case 's': opt.secret = optarg; break;
        case 'd': opt.duration_ms = atol(optarg); break;
        case 'f': return free_ports(atoi(optarg));
        case 'A': return print_default_rdma_addr();
        case 'x':
            if (strcmp(optarg, "tcp") && strcmp(optarg, "rdma")) {
                fprintf(stderr, "dsm-badconn: --transport tcp|rdma\n");
                return 2;
            }
            opt.rdma = !strcmp(optarg, "rdma");
            break;
        default: return 2;
        }
    }
    static const char *kinds[] = { "garbage", "silent", "secret", "version", "cluster", "dup",
                                   "self", "frame" };
    int known = 0;
    for (size_t i = 0; opt.kind && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        known |= !strcmp(opt.kind, kinds[i]);
    }
    if (opt.kind && !strcmp(opt.kind, "frame") && !opt.rdma) {
        known = 0;
    }
    char host[256];
    const char *colon = opt.addr ? strrchr(opt.addr, ':') : NULL;
    if (!known || !colon || (size_t)(colon - opt.addr) >= sizeof(host) || opt.parallel < 1 ||
        opt.parallel > 256) {
        fprintf(stderr, "usage: dsm-badconn --addr HOST:PORT --kind garbage|silent|secret|"
                "version|cluster|dup|self|frame [--count N] [--parallel P] [--claim ID] [--secret S] "
                "[--duration-ms D] [--transport tcp|rdma]\n");
        return 2;
    }
    memcpy(host, opt.addr, (size_t)(colon - opt.addr));
    host[colon - opt.addr] = 0;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    if (getaddrinfo(host, colon + 1, &hints, &g_ai) != 0) {
        fprintf(stderr, "cannot resolve %s\n", opt.addr);
        return 2;
    }
    if (opt.duration_ms > 0) {
        g_until = now_ms() + opt.duration_ms;
    }
    pthread_t th[256];
    for (int i = 0; i < opt.parallel; i++) {
        pthread_create(&th[i], NULL, worker, NULL);
    }
    for (int i = 0; i < opt.parallel; i++) {
        pthread_join(th[i], NULL);
    }
    printf("%s: %d refused and closed, %d wrong%s\n", opt.kind, atomic_load(&g_ok),
           atomic_load(&g_bad), atomic_load(&g_listener_gone) ? " (then the node stopped "
           "listening)" : "");
    freeaddrinfo(g_ai);
    return atomic_load(&g_bad) ? 1 : 0;
}
