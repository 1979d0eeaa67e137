/* transport_rdma.h - pieces of the RDMA transport shared by its files.
 *
 * transport_rdma_cm.c sets connections up (rdma_cm, the handshake over the
 * queue pair), transport_rdma_accept.c admits peers on the listener;
 * transport_rdma.c moves messages once every peer is in.  Framing and credits: rdma_wire.h.
 */
#ifndef DSM_TRANSPORT_RDMA_H
#define DSM_TRANSPORT_RDMA_H

#include <pthread.h>
#include <stdatomic.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma_wire.h"
#include "transport.h"

/* wr_id of a work request: the buffer index, with this bit for sends. */
#define RDMA_WR_SEND 0x10000u

/* The handshake reads at most this many bytes at a time (struct dsm_hello,
 * struct dsm_auth, a verdict). */
#define RDMA_HS_MSG_MAX  512u
#define RDMA_HS_BUF_SIZE (RDMA_FRAME_DATA_MAX + RDMA_HS_MSG_MAX)
_Static_assert(sizeof(struct dsm_hello) <= RDMA_HS_MSG_MAX &&
               sizeof(struct dsm_auth) <= RDMA_HS_MSG_MAX, "handshake messages fit");

/* Longest wait for a refused peer to acknowledge what it was sent
 * (rdma_hs_flush()): an RC queue pair reports a peer that stopped
 * answering after its retries (about half a second with the ack timeout
 * of rdma_set_ack_timeout()), well before this. */
#define RDMA_FLUSH_MS 3000

/* A frame waiting for credits or a free send buffer. */
struct rdma_backlog {
    struct rdma_backlog *next;
    uint8_t kind;
    uint32_t len;
    uint8_t data[];
};

/* One connection: its own protection domain, completion queue and channel,
 * RC queue pair and one registered area holding RDMA_RECV_DEPTH receive
 * buffers followed by RDMA_SEND_DEPTH send buffers. */
struct rdma_conn {
    struct rdma_cm_id *id;
    struct rdma_event_channel *cm_ch;   /* owned if own_ch */
    int own_ch;
    struct ibv_pd *pd;
    struct ibv_comp_channel *comp;
    struct ibv_cq *cq;
    struct ibv_mr *mr;
    uint8_t *area;
    int qp_made;
    int peer;                           /* node id once known, else -1 */
    atomic_int alive;

    pthread_mutex_t lock;               /* everything below */
    pthread_cond_t cond;                /* backlog drained or peer gone */
    struct rdma_credits cr;
    unsigned free_slots[RDMA_SEND_DEPTH];
    unsigned nfree;
    struct rdma_backlog *bl_head, *bl_tail;
    size_t bl_bytes;

    /* receive thread only */
    struct rdma_reasm reasm;
    /* handshake: bytes received and not consumed yet (room for a whole
     * frame beside the unread part of the largest handshake message, so
     * the handshake reads any peer's first bytes as TCP would) */
    uint8_t hs_buf[RDMA_HS_BUF_SIZE];
    size_t hs_len, hs_off;
    long long hs_deadline;
    int hs_closed;                      /* rdma_cm reported the connection gone */
    char hs_why[256];                   /* why the handshake I/O failed */
};

struct rdma_transport {
    struct dsm_transport base;
    struct rdma_event_channel *listen_ch;   /* listener and the ids it accepted */
    struct rdma_cm_id *listen_id;
    int epfd;
    int stop_fd;
    pthread_t rx_thread;
    int rx_started;
    atomic_int stopping;
    struct rdma_conn *conns[DSM_MAX_NODES];
};

static inline uint8_t *rdma_recv_buf(struct rdma_conn *c, unsigned i)
{
    return c->area + (size_t)i * RDMA_SLOT_SIZE;
}

static inline uint8_t *rdma_send_buf(struct rdma_conn *c, unsigned i)
{
    return c->area + (size_t)(RDMA_RECV_DEPTH + i) * RDMA_SLOT_SIZE;
}

/* transport_rdma_cm.c */
struct rdma_conn *rdma_conn_new(struct rdma_cm_id *id, struct rdma_event_channel *ch,
                                int own_ch);
/* Protection domain, completion queue and channel, RC queue pair,
 * registered buffers, every receive posted.  0 or -errno (err). */
int rdma_conn_setup(struct rdma_conn *c, char *err, size_t errlen);
struct rdma_conn_param rdma_conn_params(void);
void rdma_set_ack_timeout(struct rdma_cm_id *id);
/* Connects to every lower node and admits every higher one, each
 * authenticated by dsm_handshake() over its queue pair. */
int rdma_connect_all(struct rdma_transport *t, char *err, size_t errlen);
void rdma_conn_free(struct rdma_conn *c);
/* Connects to "host:port" without a handshake (tests send what they
 * like): 0 and *out, or DSM_HS_LOST / -errno with why. */
int rdma_dial(const char *addr, long long deadline, struct rdma_conn **out, char *why,
              size_t whylen);
/* "ip:port" of the far end of id. */
void rdma_peer_name(struct rdma_cm_id *id, char *buf, size_t len);

/* transport_rdma_hs.c: handshake I/O over a connection (struct
 * dsm_hs_io, opaque = the connection), bounded by c->hs_deadline. */
int rdma_hs_send(void *conn, const void *buf, size_t len);
int rdma_hs_recv(void *conn, void *buf, size_t len);
/* After a handshake that failed: waits until every frame sent on c has
 * completed (the peer's queue pair acknowledged it) or until deadline,
 * dropping whatever still arrives.  Disconnecting moves the queue pair to
 * the error state, which discards sends not done yet: a refusal would
 * never reach the peer.  0, or -1 (the connection failed, or the deadline
 * passed). */
int rdma_hs_flush(struct rdma_conn *c, long long deadline);

/* transport_rdma_accept.c: admits (admission.h) every node above this one on
 * t->listen_id, filling t->conns[j > self].  Bad connections are refused
 * and logged, never fatal; -ETIMEDOUT (err set) when the deadline passes. */
int rdma_accept_peers(struct rdma_transport *t, long long deadline, char *err, size_t errlen);

/* transport_rdma.c */
int rdma_post_recv(struct rdma_conn *c, unsigned i);
/* Sends one frame of alen bytes at a then blen at b now (a credit and a
 * send buffer must be available), under c->lock.  0 or -1 (post failed). */
int rdma_post_frame(struct rdma_conn *c, uint8_t kind, const void *a, size_t alen,
                    const void *b, size_t blen);

#endif
