/* transport_shm.c - same-host transport over a shared file in /dev/shm.
 *
 * The file holds one single-producer/single-consumer byte ring per ordered
 * node pair and one doorbell word per node.  A sender appends a record
 * and bumps the receiver's doorbell, calling FUTEX_WAKE only when the
 * receiver announced it is going to sleep.  The receiver spins briefly,
 * then sleeps in FUTEX_WAIT (100 ms bound, to notice peers that died:
 * their pidfds become readable).  Frames are delivered straight from
 * the ring, so a page is installed from shared memory without a copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define SHM_MAGIC      0x31304d4853534d44ull  /* "DSMSHM01" */
#define SHM_RING_SIZE  (1u << 20)
#define SHM_REC_WRAP   UINT32_MAX
#define SHM_REC_HDR    8u        /* u32 length + u32 zero */
#define SHM_LIVENESS_MS 100

struct shm_node_slot {
    atomic_uint doorbell;
    atomic_uint waiting;
    atomic_int pid;
    atomic_uint attached;
    char pad[48];
};

struct shm_ring_ctl {
    _Atomic uint64_t head;       /* consumer position (bytes, monotonic) */
    char pad1[56];
    _Atomic uint64_t tail;       /* producer position */
    char pad2[56];
};

struct shm_file_hdr {
    _Atomic uint64_t magic;
    uint32_t num_nodes;
    uint32_t ring_size;
    char pad[48];
    struct shm_node_slot nodes[DSM_MAX_NODES];
};

struct shm_peer {
    atomic_int alive;
    int pidfd;
    pthread_mutex_t send_lock;
};

struct shm_transport {
    struct dsm_transport base;
    uint8_t *map;
    size_t map_len;
    char path[256];
    pthread_t rx_thread;
    int rx_started;
    atomic_int stopping;
    struct shm_peer peers[DSM_MAX_NODES];
    /* setup-time handshake cursor */
    int hs_peer;
    long long hs_deadline;
    char hs_why[128];            /* why the last handshake read failed */
};

static struct shm_file_hdr *file_hdr(struct shm_transport *t)
{
    return (struct shm_file_hdr *)t->map;
}

static size_t ring_stride(void)
{
    return sizeof(struct shm_ring_ctl) + SHM_RING_SIZE;
}

static size_t file_size(int n)
{
    return sizeof(struct shm_file_hdr) + (size_t)n * (size_t)n * ring_stride();
}

static struct shm_ring_ctl *ring(struct shm_transport *t, int from, int to)
{
    int n = t->base.params.hs.num_nodes;
    return (struct shm_ring_ctl *)(t->map + sizeof(struct shm_file_hdr) +
                                   ((size_t)from * (size_t)n + (size_t)to) * ring_stride());
}

static uint8_t *ring_data(struct shm_ring_ctl *r)
{
    return (uint8_t *)(r + 1);
}

static void futex_wake(atomic_uint *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void futex_wait(atomic_uint *addr, unsigned val, int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0);
}

static int peer_process_gone(struct shm_transport *t, int j)
{
    struct shm_peer *pe = &t->peers[j];
    if (pe->pidfd < 0) {
        return 0;
    }
    struct pollfd pfd = { pe->pidfd, POLLIN, 0 };
    return poll(&pfd, 1, 0) > 0;
}

static void peer_fail(struct shm_transport *t, int j, const char *reason)
{
    if (!atomic_exchange(&t->peers[j].alive, 0)) {
        return;
    }
    if (!atomic_load(&t->stopping)) {
        t->base.hooks.peer_down(t->base.hooks.ctx, j, reason);
    }
}

/* Appends one record; bounded wait while the ring is full. */
static int ring_put(struct shm_transport *t, int dst, const void *a, size_t alen,
                    const void *b, size_t blen, const char **why)
{
    struct shm_ring_ctl *r = ring(t, t->base.params.hs.self, dst);
    uint8_t *data = ring_data(r);
    size_t len = alen + blen;
    uint64_t need = (SHM_REC_HDR + len + 7) & ~7ull;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t pos = tail % SHM_RING_SIZE;
    uint64_t skip = (SHM_RING_SIZE - pos < need) ? SHM_RING_SIZE - pos : 0;
    long long deadline = 0;

    while (SHM_RING_SIZE - (tail - atomic_load_explicit(&r->head, memory_order_acquire)) <
           need + skip) {
        /* Full ring: rare (the receiver drains continuously). */
        if (!deadline) {
            deadline = dsm_now_ms() + t->base.params.io_timeout_ms;
        }
        if (peer_process_gone(t, dst)) {
            *why = "peer process exited";
            return -1;
        }
        if (dsm_now_ms() > deadline) {
            *why = "peer stopped reading (ring full)";
            return -1;
        }
        struct timespec ts = { 0, 50000 };
        nanosleep(&ts, NULL);
    }
    if (skip) {
        uint32_t wrap = SHM_REC_WRAP;
        memcpy(data + pos, &wrap, sizeof(wrap));
        pos = 0;
    }
    uint32_t l32 = (uint32_t)len, zero = 0;
    memcpy(data + pos, &l32, 4);
    memcpy(data + pos + 4, &zero, 4);
    memcpy(data + pos + SHM_REC_HDR, a, alen);
    if (blen) {
        memcpy(data + pos + SHM_REC_HDR + alen, b, blen);
    }
    atomic_store_explicit(&r->tail, tail + skip + need, memory_order_release);

    struct shm_node_slot *slot = &file_hdr(t)->nodes[dst];
    atomic_fetch_add(&slot->doorbell, 1);
    if (atomic_load(&slot->waiting)) {
        futex_wake(&slot->doorbell);
    }
    return 0;
}

/* Looks at the next record from `from`: returns its length and sets *rec,
 * 0 if empty, -1 if the ring content is corrupt. */
static long ring_peek(struct shm_transport *t, int from, const uint8_t **rec)
{
    struct shm_ring_ctl *r = ring(t, from, t->base.params.hs.self);
    uint8_t *data = ring_data(r);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    for (;;) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head == tail) {
            return 0;
        }
        if (tail - head > SHM_RING_SIZE || (head & 7)) {
            return -1;
        }
        uint64_t pos = head % SHM_RING_SIZE;
        uint32_t len;
        memcpy(&len, data + pos, 4);
        if (len == SHM_REC_WRAP) {
            head += SHM_RING_SIZE - pos;
            atomic_store_explicit(&r->head, head, memory_order_release);
            continue;
        }
        uint64_t need = (SHM_REC_HDR + (uint64_t)len + 7) & ~7ull;
        if (len == 0 || pos + need > SHM_RING_SIZE || need > tail - head) {
            return -1;
        }
        *rec = data + pos + SHM_REC_HDR;
        return (long)len;
    }
}

static void ring_consume(struct shm_transport *t, int from, long len)
{
    struct shm_ring_ctl *r = ring(t, from, t->base.params.hs.self);
    uint64_t need = (SHM_REC_HDR + (uint64_t)len + 7) & ~7ull;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    atomic_store_explicit(&r->head, head + need, memory_order_release);
}

/* Delivers everything queued from every peer; returns frames handled. */
static int drain(struct shm_transport *t)
{
    int n = t->base.params.hs.num_nodes, self = t->base.params.hs.self, got = 0;
    char err[256], why[320];
    for (int j = 0; j < n; j++) {
        if (j == self || !atomic_load_explicit(&t->peers[j].alive, memory_order_relaxed)) {
            continue;
        }
        for (int k = 0; k < 64; k++) {
            const uint8_t *rec;
            long len = ring_peek(t, j, &rec);
            if (len == 0) {
                break;
            }
            if (len < 0) {
                peer_fail(t, j, "corrupt shared-memory ring");
                break;
            }
            long flen = dsm_frame_length(rec, (size_t)len, err, sizeof(err));
            if (flen != len) {
                snprintf(why, sizeof(why), "malformed frame: %s",
                         flen < 0 ? err : "length mismatch");
                peer_fail(t, j, why);
                break;
            }
            struct dsm_msg_hdr h;
            memcpy(&h, rec, sizeof(h));
            int rc = t->base.hooks.deliver(t->base.hooks.ctx, j, &h, rec + sizeof(h), err,
                                           sizeof(err));
            ring_consume(t, j, len);
            got++;
            if (rc < 0) {
                snprintf(why, sizeof(why), "malformed message: %s", err);
                peer_fail(t, j, why);
                break;
            }
        }
    }
    return got;
}

static void check_liveness(struct shm_transport *t)
{
    int n = t->base.params.hs.num_nodes;
    for (int j = 0; j < n; j++) {
        if (j != t->base.params.hs.self && atomic_load(&t->peers[j].alive) &&
            peer_process_gone(t, j)) {
            /* Deliver what it managed to send before dying, then report. */
            drain(t);
            peer_fail(t, j, "peer process exited");
        }
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *shm_rx_main(void *arg)
{
    struct shm_transport *t = arg;
    struct shm_node_slot *me = &file_hdr(t)->nodes[t->base.params.hs.self];
    long long next_check = dsm_now_ms() + SHM_LIVENESS_MS;
    unsigned spin_ns = t->base.params.shm_spin_ns;

    while (!atomic_load(&t->stopping)) {
        if (drain(t)) {
            continue;
        }
        /* Short bounded spin: a reply often arrives within microseconds. */
        int got = 0;
        if (spin_ns) {
            uint64_t until = now_ns() + spin_ns;
            while (!got && now_ns() < until) {
                __builtin_ia32_pause();
                got = drain(t);
            }
        }
        if (!got) {
            unsigned seq = atomic_load(&me->doorbell);
            atomic_store(&me->waiting, 1);
            if (!drain(t) && !atomic_load(&t->stopping)) {
                futex_wait(&me->doorbell, seq, SHM_LIVENESS_MS);
            }
            atomic_store(&me->waiting, 0);
        }
        if (dsm_now_ms() >= next_check) {
            check_liveness(t);
            next_check = dsm_now_ms() + SHM_LIVENESS_MS;
        }
    }
    return NULL;
}

/* --- setup ---------------------------------------------------------- */

static int hs_send(void *opaque, const void *buf, size_t len)
{
    struct shm_transport *t = opaque;
    const char *why;
    return ring_put(t, t->hs_peer, buf, len, NULL, 0, &why);
}

static int hs_recv(void *opaque, void *buf, size_t len)
{
    struct shm_transport *t = opaque;
    struct shm_node_slot *me = &file_hdr(t)->nodes[t->base.params.hs.self];
    for (;;) {
        const uint8_t *rec;
        unsigned seq = atomic_load(&me->doorbell);
        long got = ring_peek(t, t->hs_peer, &rec);
        if (got < 0) {
            snprintf(t->hs_why, sizeof(t->hs_why), "corrupt ring");
            return DSM_HS_IO_CLOSED;
        }
        if (got > 0 && (size_t)got != len) {
            snprintf(t->hs_why, sizeof(t->hs_why), "a record of %ld bytes where the handshake "
                     "expects %zu", got, len);
            return DSM_HS_IO_CLOSED;
        }
        if (got > 0) {
            memcpy(buf, rec, len);
            ring_consume(t, t->hs_peer, got);
            return 0;
        }
        int pid = atomic_load(&file_hdr(t)->nodes[t->hs_peer].pid);
        if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
            snprintf(t->hs_why, sizeof(t->hs_why), "process %d exited", pid);
            return DSM_HS_IO_CLOSED;
        }
        if (dsm_now_ms() > t->hs_deadline) {
            snprintf(t->hs_why, sizeof(t->hs_why), "nothing sent in time");
            return DSM_HS_IO_TIMEOUT;
        }
        atomic_store(&me->waiting, 1);
        futex_wait(&me->doorbell, seq, 10);
        atomic_store(&me->waiting, 0);
    }
}

static int create_file(struct shm_transport *t, char *err, size_t errlen)
{
    int n = t->base.params.hs.num_nodes;
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", t->path, (int)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int e;
    if (fd < 0) {
        e = errno;
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(e));
        return -e;
    }
    t->map_len = file_size(n);
    if (ftruncate(fd, (off_t)t->map_len) < 0) {
        e = errno;
        snprintf(err, errlen, "ftruncate %s: %s", tmp, strerror(e));
        close(fd);
        unlink(tmp);
        return -e;
    }
    t->map = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    e = errno;
    close(fd);
    if (t->map == MAP_FAILED) {
        t->map = NULL;
        snprintf(err, errlen, "mmap %s: %s", tmp, strerror(e));
        unlink(tmp);
        return -e;
    }
    struct shm_file_hdr *fh = file_hdr(t);
    fh->num_nodes = (uint32_t)n;
    fh->ring_size = SHM_RING_SIZE;
    atomic_store(&fh->nodes[0].pid, (int)getpid());   /* lets peers spot a stale file */
    atomic_store(&fh->magic, SHM_MAGIC);
    /* Publish atomically: peers never see a half-initialised file. */
    if (rename(tmp, t->path) < 0) {
        e = errno;
        snprintf(err, errlen, "rename to %s: %s", t->path, strerror(e));
        unlink(tmp);
        return -e;
    }
    return 0;
}

static int open_file(struct shm_transport *t, char *err, size_t errlen)
{
    int n = t->base.params.hs.num_nodes;
    long long deadline = dsm_now_ms() + t->base.params.connect_timeout_ms;
    for (;;) {
        int fd = open(t->path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            struct stat st;
            if (fstat(fd, &st) == 0 && (size_t)st.st_size == file_size(n)) {
                t->map_len = file_size(n);
                t->map = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                int e = errno;
                close(fd);
                if (t->map == MAP_FAILED) {
                    t->map = NULL;
                    snprintf(err, errlen, "mmap %s: %s", t->path, strerror(e));
                    return -e;
                }
                struct shm_file_hdr *fh = file_hdr(t);
                int creator = atomic_load(&fh->nodes[0].pid);
                if (atomic_load(&fh->magic) == SHM_MAGIC && creator > 0 &&
                    kill(creator, 0) < 0 && errno == ESRCH) {
                    /* Left behind by a dead run: wait for node 0 to publish a new one. */
                    munmap(t->map, t->map_len);
                    t->map = NULL;
                    goto wait;
                }
                if (atomic_load(&fh->magic) != SHM_MAGIC || fh->num_nodes != (uint32_t)n ||
                    fh->ring_size != SHM_RING_SIZE) {
                    snprintf(err, errlen, "%s: layout differs (nodes %u, local %d)", t->path,
                             fh->num_nodes, n);
                    return -ECONNREFUSED;
                }
                return 0;
            }
            close(fd);
            snprintf(err, errlen, "%s has the wrong size for %d nodes", t->path, n);
            return -ECONNREFUSED;
        }
    wait:
        if (dsm_now_ms() > deadline) {
            snprintf(err, errlen, "%s did not appear within %d ms (is node 0 running?)",
                     t->path, t->base.params.connect_timeout_ms);
            return -ETIMEDOUT;
        }
        struct timespec ts = { 0, 5 * 1000 * 1000 };   /* setup-time wait only */
        nanosleep(&ts, NULL);
    }
}

/* Handshake with a lower-numbered node, which waits for us: a refusal is
 * final (-ECONNREFUSED); -ECONNRESET if it went away or fell silent. */
static int join_peer(struct shm_transport *t, int j, long long deadline, char *err,
                     size_t errlen)
{
    struct dsm_hs_io io = { .opaque = t, .send = hs_send, .recv = hs_recv };
    char why[256];
    t->hs_peer = j;
    t->hs_deadline = deadline;
    t->hs_why[0] = 0;
    int rc = dsm_handshake(&t->base.params.hs, &io, j, why, sizeof(why));
    if (rc != j) {
        snprintf(err, errlen, "handshake with node %d over %s: %s%s%s", j, t->path, why,
                 rc == DSM_HS_LOST && t->hs_why[0] ? ": " : "",
                 rc == DSM_HS_LOST ? t->hs_why : "");
        return rc == DSM_HS_LOST ? -ECONNRESET : -ECONNREFUSED;
    }
    return 0;
}

/* Empties both rings between this node and slot j after a refused
 * participant, so that the next one starts from a clean pair.  First lets
 * the refused one read the refusal (it names the reason), for a second at
 * most, unless it exits. */
static void reset_pair(struct shm_transport *t, int j, int pid)
{
    int self = t->base.params.hs.self;
    struct shm_ring_ctl *in = ring(t, j, self), *out = ring(t, self, j);
    long long until = dsm_now_ms() + 1000;
    while (atomic_load(&out->head) != atomic_load(&out->tail) && dsm_now_ms() < until &&
           !(kill(pid, 0) < 0 && errno == ESRCH)) {
        struct timespec ts = { 0, 2 * 1000 * 1000 };   /* setup-time wait only */
        nanosleep(&ts, NULL);
    }
    atomic_store(&in->head, atomic_load(&in->tail));
    atomic_store(&out->head, atomic_load(&out->tail));
}

/* Waits for a process to attach as node j (a pid other than `refused`). */
static int wait_attach(struct shm_transport *t, int j, int refused, long long deadline)
{
    for (;;) {
        int pid = atomic_load(&file_hdr(t)->nodes[j].pid);
        if (pid > 0 && pid != refused) {
            return pid;
        }
        if (dsm_now_ms() > deadline) {
            return -1;
        }
        struct timespec ts = { 0, 5 * 1000 * 1000 };   /* setup-time wait only */
        nanosleep(&ts, NULL);
    }
}

/* Handshake with a higher-numbered node, which this node waits for.  Any
 * process that can open the file may attach in its slot; one that fails
 * the handshake (another secret, version or layout, bad records, silence
 * for DSM_HS_TIMEOUT_MS, exit) is refused and logged with its pid, the
 * rings of the slot are emptied, and the node waits for the next one
 * until the connect deadline. */
static int admit_peer(struct shm_transport *t, int j, long long deadline, char *err,
                      size_t errlen)
{
    struct dsm_hs_io io = { .opaque = t, .send = hs_send, .recv = hs_recv };
    int refused_pid = 0, refused = 0;
    char why[256], last[420] = "";
    for (;;) {
        int pid = wait_attach(t, j, refused_pid, deadline);
        if (pid < 0) {
            int k = snprintf(err, errlen, "timed out after %d ms waiting for node %d to attach "
                             "to %s", t->base.params.connect_timeout_ms, j, t->path);
            if (refused && k >= 0 && (size_t)k < errlen) {
                snprintf(err + k, errlen - (size_t)k, " (%d participant(s) refused, the last "
                         "%s)", refused, last);
            }
            return -ETIMEDOUT;
        }
        t->hs_peer = j;
        t->hs_deadline = dsm_now_ms() + DSM_HS_TIMEOUT_MS;
        if (t->hs_deadline > deadline) {
            t->hs_deadline = deadline;
        }
        t->hs_why[0] = 0;
        int rc = dsm_handshake(&t->base.params.hs, &io, j, why, sizeof(why));
        if (rc == j) {
            return 0;
        }
        refused++;
        snprintf(last, sizeof(last), "pid %d: %s%s%s", pid, why,
                 rc == DSM_HS_LOST && t->hs_why[0] ? ": " : "",
                 rc == DSM_HS_LOST ? t->hs_why : "");
        refused_pid = pid;
        reset_pair(t, j, pid);
        dsm_transport_logf(&t->base, DSM_LOG_WARN, "refused participant for node %d on %s, %s",
                           j, t->path, last);
    }
}

static int shm_start(struct dsm_transport *base, char *err, size_t errlen)
{
    struct shm_transport *t = (struct shm_transport *)base;
    const struct dsm_transport_params *p = &base->params;
    int self = p->hs.self, n = p->hs.num_nodes, rc;
    if (!p->shm_name || !*p->shm_name || strchr(p->shm_name, '/')) {
        snprintf(err, errlen, "shm transport needs a plain file name (got '%s')",
                 p->shm_name ? p->shm_name : "(null)");
        return -EINVAL;
    }
    snprintf(t->path, sizeof(t->path), "/dev/shm/%s", p->shm_name);
    if ((rc = self == 0 ? create_file(t, err, errlen) : open_file(t, err, errlen)) < 0) {
        return rc;
    }
    struct shm_node_slot *me = &file_hdr(t)->nodes[self];
    atomic_store(&me->pid, (int)getpid());
    atomic_store(&me->attached, 1);

    long long deadline = dsm_now_ms() + p->connect_timeout_ms;
    for (int j = 0; j < n; j++) {
        if (j == self) {
            continue;
        }
        if ((rc = j < self ? join_peer(t, j, deadline, err, errlen) :
                  admit_peer(t, j, deadline, err, errlen)) < 0) {
            if (self == 0) {
                unlink(t->path);   /* this cluster will not form: leave nothing behind */
            }
            return rc;
        }
        int pid = atomic_load(&file_hdr(t)->nodes[j].pid);
        t->peers[j].pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (t->peers[j].pidfd < 0) {
            rc = -errno;
            snprintf(err, errlen, "pidfd_open(%d) for node %d: %s", pid, j, strerror(-rc));
            return rc;
        }
        atomic_store(&t->peers[j].alive, 1);
    }
    if (self == 0) {
        unlink(t->path);   /* everybody attached: nothing left behind in /dev/shm */
    }
    if ((rc = pthread_create(&t->rx_thread, NULL, shm_rx_main, t)) != 0) {
        snprintf(err, errlen, "cannot start receive thread: %s", strerror(rc));
        return -rc;
    }
    t->rx_started = 1;
    return 0;
}

static int shm_send(struct dsm_transport *base, int dst, const struct dsm_msg_hdr *h,
                    const void *payload)
{
    struct shm_transport *t = (struct shm_transport *)base;
    struct shm_peer *pe = &t->peers[dst];
    const char *why = NULL;
    if (h->type == DSM_MSG_APP) {
        /* Application messages may only fill half the ring: protocol
         * replies, sent by receive threads, must always find room, or two
         * receive threads could each wait for the other to drain.  Waited
         * for outside the lock, which protocol sends must never queue on. */
        struct shm_ring_ctl *r = ring(t, base->params.hs.self, dst);
        uint64_t need = SHM_REC_HDR + sizeof(*h) + h->payload_len + 8;
        long long deadline = 0;
        while (SHM_RING_SIZE / 2 < need + atomic_load(&r->tail) - atomic_load(&r->head)) {
            if (!deadline) {
                deadline = dsm_now_ms() + base->params.io_timeout_ms;
            }
            if (!atomic_load(&pe->alive) || peer_process_gone(t, dst) ||
                dsm_now_ms() > deadline) {
                peer_fail(t, dst, "peer stopped reading (application messages pile up)");
                return -1;
            }
            struct timespec ts = { 0, 100 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    pthread_mutex_lock(&pe->send_lock);
    if (!atomic_load(&pe->alive)) {
        pthread_mutex_unlock(&pe->send_lock);
        return -1;
    }
    int rc = ring_put(t, dst, h, sizeof(*h), payload, h->payload_len, &why);
    pthread_mutex_unlock(&pe->send_lock);
    if (rc < 0) {
        peer_fail(t, dst, why);
    }
    return rc;
}

static void shm_stop(struct dsm_transport *base)
{
    struct shm_transport *t = (struct shm_transport *)base;
    atomic_store(&t->stopping, 1);
    if (t->rx_started) {
        struct shm_node_slot *me = &file_hdr(t)->nodes[base->params.hs.self];
        atomic_fetch_add(&me->doorbell, 1);
        futex_wake(&me->doorbell);
        pthread_join(t->rx_thread, NULL);
        t->rx_started = 0;
    }
    for (int j = 0; j < DSM_MAX_NODES; j++) {
        pthread_mutex_lock(&t->peers[j].send_lock);
        atomic_store(&t->peers[j].alive, 0);
        pthread_mutex_unlock(&t->peers[j].send_lock);
    }
}

static void shm_destroy(struct dsm_transport *base)
{
    struct shm_transport *t = (struct shm_transport *)base;
    shm_stop(base);
    for (int j = 0; j < DSM_MAX_NODES; j++) {
        if (t->peers[j].pidfd >= 0) {
            close(t->peers[j].pidfd);
        }
        pthread_mutex_destroy(&t->peers[j].send_lock);
    }
    if (t->map) {
        munmap(t->map, t->map_len);
    }
    free(t);
}

static const struct dsm_transport_ops shm_ops = {
    .name = "shm",
    .start = shm_start,
    .send = shm_send,
    .stop = shm_stop,
    .destroy = shm_destroy,
};

struct dsm_transport *dsm_transport_shm_new(const struct dsm_transport_params *p,
                                            const struct dsm_transport_hooks *hooks)
{
    struct shm_transport *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->base.ops = &shm_ops;
    t->base.hooks = *hooks;
    t->base.params = *p;
    for (int j = 0; j < DSM_MAX_NODES; j++) {
        t->peers[j].pidfd = -1;
        pthread_mutex_init(&t->peers[j].send_lock, NULL);
    }
    return &t->base;
}
