/* admission.h - how a waiting node lets in the nodes above it.
 *
 * Anyone who can reach a listener while a node waits for its peers can
 * connect, so a connection that fails the handshake must cost little and
 * harm nothing.  The TCP and RDMA listeners (transport_tcp_accept.c,
 * transport_rdma_accept.c) get connections their own way and hand each to
 * this module, which applies one policy:
 *
 *  - each connection runs its handshake on a thread of its own, so a slow or
 *    silent one delays nobody, with DSM_HS_TIMEOUT_MS (transport.h) to
 *    finish, at most the time left to connect;
 *  - at most DSM_HS_MAX_PENDING run at once; to make room, the oldest one
 *    that has not proved the secret is pushed out (a real peer that is
 *    pushed out connects again);
 *  - a node id below ours or already connected is refused right after its
 *    hello;
 *  - a connection that fails is ended and logged with its address and the
 *    reason (a bounded number of lines a second, the rest counted), and the
 *    node keeps waiting until the connect deadline.
 *
 * Every function is called by the thread that waits for the peers.
 */
#ifndef DSM_ADMISSION_H
#define DSM_ADMISSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

/* Bound on connections that have not authenticated yet: a flood of them
 * cannot hold a real peer out, it only pushes itself out. */
#define DSM_HS_MAX_PENDING 16

/* What a transport does with its connections.  conn is the transport's
 * own connection, which its handshake I/O gets as opaque. */
struct admission_ops {
    int (*hs_send)(void *conn, const void *buf, size_t len);
    int (*hs_recv)(void *conn, void *buf, size_t len);
    /* Bounds the handshake I/O at deadline (dsm_now_ms() clock). */
    void (*set_deadline)(void *conn, long long deadline);
    /* Makes a running handshake fail at once; may run under the lock. */
    void (*interrupt)(void *conn);
    /* Optional, on the handshake thread once a handshake failed. */
    void (*handshake_failed)(void *conn);
    /* Optional: how the handshake I/O failed, "" if it did not say. */
    const char *(*io_failure)(void *conn);
    /* Node peer is in: the transport takes conn over (under the lock). */
    void (*keep)(void *owner, void *conn, int peer);
    /* Ends a connection that is not kept. */
    void (*drop)(void *conn);
    /* Logged as "refused <what> from ..." and "refused N more <what>(s)". */
    const char *what;
    /* Logged as "node N connected<over> from ...". */
    const char *over;
    /* A peer that authenticated only after the wait ended is logged as a
     * refusal (true), or ended without a word. */
    bool refuse_late;
};

struct admission;

struct admission_slot {
    struct admission *adm;
    void *conn;
    pthread_t thread;
    int used;                    /* thread started and not joined yet */
    int done;                    /* handshake over (under the lock) */
    int pushed_out;              /* under the lock */
    int authed;                  /* knows the secret: never pushed out (under the lock) */
    long long started;
    int peer;                    /* dsm_handshake() result */
    char name[64];
    char why[256];
};

struct admission {
    struct dsm_transport *t;
    const struct admission_ops *ops;
    void *owner;                 /* given to ops->keep */
    pthread_mutex_t lock;        /* admitted[], and the slots' fields that say so */
    int wake[2];                 /* wake[0] turns readable when a handshake ends */
    bool admitted[DSM_MAX_NODES];
    int remaining;               /* nodes still awaited */
    int refused;
    char last_refusal[512];
    /* log lines per second are bounded: a flood must not fill the disk */
    long long log_window;
    int logged, unlogged;
    struct admission_slot slots[DSM_HS_MAX_PENDING];
};

/* Awaits every node above t's own.  0, or -errno with err. */
int admission_init(struct admission *a, struct dsm_transport *t, const struct admission_ops *ops,
                   void *owner, char *err, size_t errlen);

/* Takes in the handshakes that ended.  1 while a node is still awaited,
 * with *left the milliseconds to deadline; 0 once every node is in;
 * -ETIMEDOUT with err naming the missing nodes once deadline passed. */
int admission_wait(struct admission *a, long long deadline, long long *left, char *err,
                   size_t errlen);

/* A free slot's index, or -1 if all are busy.  *leaving (if leaving is not
 * NULL) tells whether a busy slot's handshake ended or is ending, so that
 * its slot frees soon. */
int admission_free_slot(struct admission *a, int *leaving);

/* Runs the handshake of conn, from name, on a thread in free slot i;
 * deadline is the connect deadline. */
void admission_start(struct admission *a, int i, void *conn, const char *name,
                     long long deadline);

/* Ends the oldest handshake that has not authenticated: its slot's index,
 * to be reaped once it ended, or -1 if every handshake authenticated. */
int admission_push_out_oldest(struct admission *a);

/* Waits for the handshake in slot i to end, then keeps or refuses its
 * connection. */
void admission_reap(struct admission *a, int i);

/* Logs a refused connection from name and drops conn (if not NULL). */
void admission_refuse(struct admission *a, void *conn, const char *name, const char *why);

/* Ends the handshakes still running (rc: how the wait ended) and frees
 * what admission_init() took. */
void admission_finish(struct admission *a, int rc);

#endif
