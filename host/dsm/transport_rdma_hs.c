/* transport_rdma_hs.c - handshake bytes over an RDMA queue pair.
 *
 * dsm_handshake() (handshake.c) reads and writes a byte stream; here its
 * bytes travel in RDMA_FK_HS frames (rdma_wire.h), under the same credits
 * as every frame, and are read back from the receive buffers in order.
 * Anything else during the handshake (another kind of frame, a frame that
 * fails its checks, a completion in error, an rdma_cm event other than
 * ESTABLISHED on a connection of our own) ends it, with the reason kept in
 * c->hs_why for the log.  Every wait is bounded by c->hs_deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "transport_rdma.h"

/* Waits until c's completion channel or (a connection of our own) its
 * rdma_cm channel has something, or c->hs_deadline: 0 (poll the queue
 * again) or DSM_HS_IO_TIMEOUT.  An rdma_cm event other than ESTABLISHED
 * marks the connection closed (c->hs_closed, c->hs_why): the caller still
 * takes what the completion queue holds, which arrived before the close. */
static int hs_wait(struct rdma_conn *c)
{
    long long left = c->hs_deadline - dsm_now_ms();
    if (left <= 0) {
        return DSM_HS_IO_TIMEOUT;
    }
    /* a connection of our own also ends on a disconnect event (the queue
     * pair itself hears nothing of the far end going away) */
    struct pollfd pfd[2] = { { c->comp->fd, POLLIN, 0 },
                             { c->own_ch ? c->cm_ch->fd : -1, POLLIN, 0 } };
    if (poll(pfd, 2, (int)left) < 0 && errno != EINTR) {
        c->hs_closed = 1;
        snprintf(c->hs_why, sizeof(c->hs_why), "poll: %s", strerror(errno));
        return 0;
    }
    struct rdma_cm_event *ev;
    if (c->own_ch && rdma_get_cm_event(c->cm_ch, &ev) == 0) {
        enum rdma_cm_event_type type = ev->event;
        rdma_ack_cm_event(ev);
        if (type != RDMA_CM_EVENT_ESTABLISHED && !c->hs_closed) {
            c->hs_closed = 1;
            snprintf(c->hs_why, sizeof(c->hs_why), "rdma_cm: %s", rdma_event_str(type));
        }
    }
    struct ibv_cq *cq;
    void *cctx;
    if (ibv_get_cq_event(c->comp, &cq, &cctx) == 0) {
        ibv_ack_cq_events(cq, 1);
    }
    return 0;
}

/* The next completion of c: 1 and *wc, or DSM_HS_IO_CLOSED once the
 * connection is gone and every completion before that was taken, or
 * DSM_HS_IO_TIMEOUT at c->hs_deadline. */
static int hs_next_completion(struct rdma_conn *c, struct ibv_wc *wc)
{
    for (;;) {
        int n = ibv_poll_cq(c->cq, 1, wc);
        if (n < 0) {
            return DSM_HS_IO_CLOSED;
        }
        if (n == 0) {
            if (c->hs_closed) {
                return DSM_HS_IO_CLOSED;
            }
            if (ibv_req_notify_cq(c->cq, 0)) {
                return DSM_HS_IO_CLOSED;
            }
            if ((n = ibv_poll_cq(c->cq, 1, wc)) < 0) {
                return DSM_HS_IO_CLOSED;
            }
        }
        if (n > 0) {
            return 1;
        }
        int rc = hs_wait(c);
        if (rc < 0) {
            return rc;
        }
    }
}

static void hs_send_done(struct rdma_conn *c, const struct ibv_wc *wc)
{
    pthread_mutex_lock(&c->lock);
    c->free_slots[c->nfree++] = (unsigned)(wc->wr_id & (RDMA_WR_SEND - 1));
    pthread_mutex_unlock(&c->lock);
}

/* Handles one completion of the handshake phase, waiting until
 * c->hs_deadline.  0, or DSM_HS_IO_*. */
static int hs_complete_one(struct rdma_conn *c)
{
    for (;;) {
        struct ibv_wc wc;
        int n = hs_next_completion(c, &wc);
        if (n < 0) {
            return n;
        }
        if (wc.status != IBV_WC_SUCCESS) {
            snprintf(c->hs_why, sizeof(c->hs_why), "%s", ibv_wc_status_str(wc.status));
            return DSM_HS_IO_CLOSED;
        }
        if (wc.wr_id & RDMA_WR_SEND) {
            hs_send_done(c, &wc);
            continue;
        }
        unsigned slot = (unsigned)wc.wr_id;
        struct rdma_frame_hdr fh;
        char why[200];
        if (slot >= RDMA_RECV_DEPTH ||
            rdma_frame_parse(rdma_recv_buf(c, slot), wc.byte_len, &fh, why, sizeof(why)) < 0) {
            snprintf(c->hs_why, sizeof(c->hs_why), "malformed frame: %s", why);
            return DSM_HS_IO_CLOSED;    /* the handshake fails */
        }
        if (fh.kind != RDMA_FK_HS) {
            snprintf(c->hs_why, sizeof(c->hs_why), "frame of kind %u during the handshake",
                     fh.kind);
            return DSM_HS_IO_CLOSED;
        }
        pthread_mutex_lock(&c->lock);
        int bad = rdma_credits_on_grant(&c->cr, fh.credits);
        pthread_mutex_unlock(&c->lock);
        if (c->hs_off) {
            memmove(c->hs_buf, c->hs_buf + c->hs_off, c->hs_len - c->hs_off);
            c->hs_len -= c->hs_off;
            c->hs_off = 0;
        }
        if (bad || fh.len > sizeof(c->hs_buf) - c->hs_len) {
            snprintf(c->hs_why, sizeof(c->hs_why), "%s", bad ? "too many credits returned" :
                     "more handshake data than a handshake holds");
            return DSM_HS_IO_CLOSED;
        }
        memcpy(c->hs_buf + c->hs_len, rdma_recv_buf(c, slot) + sizeof(fh), fh.len);
        c->hs_len += fh.len;
        if (rdma_post_recv(c, slot) < 0) {
            return DSM_HS_IO_CLOSED;
        }
        pthread_mutex_lock(&c->lock);
        rdma_credits_on_repost(&c->cr);
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
}

int rdma_hs_send(void *opaque, const void *buf, size_t len)
{
    struct rdma_conn *c = opaque;
    const uint8_t *p = buf;
    while (len) {
        size_t n = len < RDMA_FRAME_DATA_MAX ? len : RDMA_FRAME_DATA_MAX;
        pthread_mutex_lock(&c->lock);
        int ok = c->nfree > 0 && rdma_credits_can_send(&c->cr);
        if (ok && rdma_post_frame(c, RDMA_FK_HS, p, n, NULL, 0) < 0) {
            pthread_mutex_unlock(&c->lock);
            return -1;
        }
        pthread_mutex_unlock(&c->lock);
        if (!ok) {
            /* a handshake sends three frames; only a peer that never
             * answers can leave us without credits */
            if (hs_complete_one(c) < 0) {
                return -1;
            }
            continue;
        }
        p += n;
        len -= n;
    }
    return 0;
}

int rdma_hs_recv(void *opaque, void *buf, size_t len)
{
    struct rdma_conn *c = opaque;
    if (len > RDMA_HS_MSG_MAX) {
        return DSM_HS_IO_CLOSED;   /* no handshake message is this long */
    }
    while (c->hs_len - c->hs_off < len) {
        int rc = hs_complete_one(c);
        if (rc < 0) {
            return rc;
        }
    }
    memcpy(buf, c->hs_buf + c->hs_off, len);
    c->hs_off += len;
    return 0;
}


int rdma_hs_flush(struct rdma_conn *c, long long deadline)
{
    long long saved = c->hs_deadline;
    int rc = 0;
    c->hs_deadline = deadline;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        int pending = c->nfree < RDMA_SEND_DEPTH;
        pthread_mutex_unlock(&c->lock);
        if (!pending) {
            break;
        }
        struct ibv_wc wc;
        int n = hs_next_completion(c, &wc);
        if (n < 0 || wc.status != IBV_WC_SUCCESS) {
            rc = -1;   /* gone: nothing more leaves this queue pair */
            break;
        }
        if (wc.wr_id & RDMA_WR_SEND) {
            hs_send_done(c, &wc);
        }
        /* a receive: the handshake is over, its bytes are not read */
    }
    c->hs_deadline = saved;
    return rc;
}
