/* transport.h - message transports behind one interface.
 *
 * A transport connects this node to every peer (running the handshake),
 * sends framed messages, and runs its own receive thread that hands each
 * complete frame to hooks.deliver() with the payload still in the
 * transport's buffer (valid only during the call: the receiver installs
 * pages straight from it).  deliver() returning -1 means "malformed":
 * the transport closes that peer and reports it through peer_down().
 */
#ifndef DSM_TRANSPORT_H
#define DSM_TRANSPORT_H

#include <stddef.h>
#include <time.h>

#include "handshake.h"
#include "proto.h"

struct dsm_transport;

/* The time ms milliseconds from now on clock clk: a pthread_cond_timedwait()
 * deadline for a condition variable that uses that clock. */
static inline struct timespec dsm_deadline_ms(clockid_t clk, int ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Time a peer that is not authenticated yet gets to finish the handshake
 * once it connected (at most the time left to connect).  Nodes send their
 * hellos at once, so a real peer needs milliseconds. */
#define DSM_HS_TIMEOUT_MS 5000

struct dsm_transport_hooks {
    void *ctx;
    int (*deliver)(void *ctx, int src, const struct dsm_msg_hdr *h, const void *payload,
                   char *err, size_t errlen);
    void (*peer_down)(void *ctx, int peer, const char *reason);
    void (*log)(void *ctx, int level, const char *msg);
};

struct dsm_transport_ops {
    const char *name;
    /* Connect and authenticate every peer, then start receiving.  0, or
     * -errno with a message in err: -ETIMEDOUT (a peer did not come in
     * time), -ECONNREFUSED (a peer was refused or refused us: secret,
     * version or layout differ), -ECONNRESET (it went away during the
     * handshake), -EINVAL (bad address or name), or a system call's. */
    int (*start)(struct dsm_transport *t, char *err, size_t errlen);
    /* Sends header + h->payload_len bytes of payload; thread-safe.
     * 0, or -1 if the peer is gone (peer_down is reported once). */
    int (*send)(struct dsm_transport *t, int dst, const struct dsm_msg_hdr *h,
                const void *payload);
    /* Stops receiving and closes every connection. */
    void (*stop)(struct dsm_transport *t);
    void (*destroy)(struct dsm_transport *t);
};

struct dsm_transport_params {
    struct dsm_hs_params hs;
    int connect_timeout_ms;
    int io_timeout_ms;               /* bound on a blocked send */
    /* TCP */
    const char *const *tcp_addrs;
    int tcp_listen_fd;
    /* RDMA: "host:port" of every node (rdma_cm addresses) */
    const char *const *rdma_addrs;
    /* SHM */
    const char *shm_name;
    unsigned shm_spin_ns;
};

struct dsm_transport {
    const struct dsm_transport_ops *ops;
    struct dsm_transport_hooks hooks;
    struct dsm_transport_params params;
};

struct dsm_transport *dsm_transport_tcp_new(const struct dsm_transport_params *p,
                                            const struct dsm_transport_hooks *hooks);
struct dsm_transport *dsm_transport_rdma_new(const struct dsm_transport_params *p,
                                             const struct dsm_transport_hooks *hooks);
struct dsm_transport *dsm_transport_shm_new(const struct dsm_transport_params *p,
                                            const struct dsm_transport_hooks *hooks);

/* Helpers for transports. */
void dsm_transport_logf(struct dsm_transport *t, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
long long dsm_now_ms(void);

#endif
