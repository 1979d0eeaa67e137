/* transport_rdma_accept.c - admitting peers on the RDMA listener.
 *
 * The policy (a handshake thread per connection, its deadline, the cap,
 * pushing out, logging refusals) is admission.c's, as for TCP.  This file
 * turns rdma_cm connection requests into connections for it: each is
 * accepted with its own queue pair and buffers before its handshake
 * starts.  A request that finds every slot busy pushes out the oldest
 * handshake that has not authenticated and takes that slot once the
 * handshake ended (the TCP listener leaves it to the kernel's queue).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "admission.h"
#include "transport_rdma.h"

/* ---- what admission.c does with an RDMA connection ---- */

static void conn_set_deadline(void *conn, long long deadline)
{
    ((struct rdma_conn *)conn)->hs_deadline = deadline;
}

static void conn_interrupt(void *conn)
{
    rdma_disconnect(((struct rdma_conn *)conn)->id);   /* its queue pair fails */
}

/* A refusal (or verdict) must reach the peer before the connection is
 * dropped: disconnecting discards what is still queued. */
static void conn_handshake_failed(void *conn)
{
    rdma_hs_flush(conn, dsm_now_ms() + RDMA_FLUSH_MS);
}

static const char *conn_io_failure(void *conn)
{
    return ((struct rdma_conn *)conn)->hs_why;
}

static void conn_keep(void *transport, void *conn, int peer)
{
    struct rdma_conn *c = conn;
    c->peer = peer;
    ((struct rdma_transport *)transport)->conns[peer] = c;
}

static void conn_drop(void *conn)
{
    struct rdma_conn *c = conn;
    rdma_disconnect(c->id);
    rdma_conn_free(c);
}

static const struct admission_ops rdma_admission = {
    .hs_send = rdma_hs_send,
    .hs_recv = rdma_hs_recv,
    .set_deadline = conn_set_deadline,
    .interrupt = conn_interrupt,
    .handshake_failed = conn_handshake_failed,
    .io_failure = conn_io_failure,
    .keep = conn_keep,
    .drop = conn_drop,
    .what = "RDMA connection",
    .over = " over RDMA",
    .refuse_late = true,
};

/* A connection request: set it up, accept it, authenticate on a thread. */
static void on_request(struct admission *adm, struct rdma_cm_id *id, long long deadline)
{
    struct rdma_transport *t = adm->owner;
    char name[64], err[256];
    rdma_peer_name(id, name, sizeof(name));
    int slot = admission_free_slot(adm, NULL);
    if (slot < 0 && (slot = admission_push_out_oldest(adm)) >= 0) {
        admission_reap(adm, slot);   /* its slot is free once it ended */
    }
    if (slot < 0) {
        rdma_reject(id, NULL, 0);
        rdma_destroy_id(id);
        admission_refuse(adm, NULL, name, "every handshake slot holds an authenticated peer");
        return;
    }
    struct rdma_conn *c = rdma_conn_new(id, t->listen_ch, 0);
    if (!c) {
        rdma_reject(id, NULL, 0);
        rdma_destroy_id(id);
        admission_refuse(adm, NULL, name, "out of memory");
        return;
    }
    struct rdma_conn_param p = rdma_conn_params();
    if (rdma_conn_setup(c, err, sizeof(err)) < 0) {
        rdma_reject(id, NULL, 0);
        admission_refuse(adm, c, name, err);
        return;
    }
    rdma_set_ack_timeout(id);
    if (rdma_accept(id, &p)) {
        snprintf(err, sizeof(err), "rdma_accept: %s", strerror(errno));
        admission_refuse(adm, c, name, err);
        return;
    }
    admission_start(adm, slot, c, name, deadline);
}

/* Handles every event waiting on the listener's channel. */
static void listener_events(struct admission *adm, long long deadline)
{
    struct rdma_transport *t = adm->owner;
    struct rdma_cm_event *ev;
    while (rdma_get_cm_event(t->listen_ch, &ev) == 0) {
        enum rdma_cm_event_type type = ev->event;
        struct rdma_cm_id *id = ev->id;
        rdma_ack_cm_event(ev);
        if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
            on_request(adm, id, deadline);
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

int rdma_accept_peers(struct rdma_transport *t, long long deadline, char *err, size_t errlen)
{
    struct admission adm;
    long long left;
    int rc = admission_init(&adm, &t->base, &rdma_admission, t, err, errlen);
    if (rc < 0) {
        return rc;
    }
    while ((rc = admission_wait(&adm, deadline, &left, err, errlen)) > 0) {
        struct pollfd pfd[2] = { { adm.wake[0], POLLIN, 0 }, { t->listen_ch->fd, POLLIN, 0 } };
        if (poll(pfd, 2, (int)left) > 0 && (pfd[1].revents & POLLIN)) {
            listener_events(&adm, deadline);
        }
    }
    admission_finish(&adm, rc);
    return rc;
}
