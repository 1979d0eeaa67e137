/*
 * dsmvm: requests to a peer that wait for its reply.
 *
 * The requester numbers its request (seq), sends it and sleeps on
 * reply_cond; the owner of the reply type, on the receive thread, hands the
 * reply to dsmvm_complete_request(), which finds the waiter by seq.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "internal.h"
#include "trace.h"

typedef struct DsmvmPending {
    uint64_t seq;
    bool done;
    size_t len;
    uint8_t reply[64];
} DsmvmPending;

void dsmvm_request_init(DsmvmNode *n)
{
    qemu_mutex_init(&n->reply_lock);
    qemu_cond_init(&n->reply_cond);
    n->pending = g_hash_table_new(g_int64_hash, g_int64_equal);
}

void dsmvm_request(DsmvmNode *n, int dst, void *req, size_t req_len,
                   uint64_t *seq_field, void *reply, size_t reply_len,
                   int timeout_ms, const char *what)
{
    DsmvmPending p = { 0 };
    bool had_bql = bql_locked();
    int64_t start = g_get_monotonic_time();
    int64_t deadline = start + (int64_t)timeout_ms * 1000;

    assert(reply_len <= sizeof(p.reply));
    qemu_mutex_lock(&n->reply_lock);
    p.seq = ++n->next_seq;
    *seq_field = p.seq;
    g_hash_table_insert(n->pending, &p.seq, &p);
    qemu_mutex_unlock(&n->reply_lock);

    if (had_bql) {
        bql_unlock();
    }
    trace_dsmvm_request_send(dst, p.seq, what);
    dsmvm_send(n, dst, req, req_len);
    qemu_mutex_lock(&n->reply_lock);
    while (!p.done) {
        int64_t left_ms = (deadline - g_get_monotonic_time()) / 1000;
        if (left_ms <= 0) {
            g_hash_table_remove(n->pending, &p.seq);
            qemu_mutex_unlock(&n->reply_lock);
            dsmvm_fatal(n, "node%d did not answer %s within %d ms",
                        dst, what, timeout_ms);
        }
        qemu_cond_timedwait(&n->reply_cond, &n->reply_lock, left_ms);
    }
    g_hash_table_remove(n->pending, &p.seq);
    qemu_mutex_unlock(&n->reply_lock);
    trace_dsmvm_request_done(dst, p.seq, g_get_monotonic_time() - start);
    if (had_bql) {
        bql_lock();
    }
    if (p.len != reply_len) {
        dsmvm_fatal(n, "node%d answered %s with %zu bytes, expected %zu",
                    dst, what, p.len, reply_len);
    }
    memcpy(reply, p.reply, reply_len);
}

bool dsmvm_complete_request(DsmvmNode *n, uint64_t seq, const void *reply,
                            size_t len)
{
    DsmvmPending *p;

    qemu_mutex_lock(&n->reply_lock);
    p = g_hash_table_lookup(n->pending, &seq);
    if (p && len <= sizeof(p->reply)) {
        memcpy(p->reply, reply, len);
        p->len = len;
        p->done = true;
        qemu_cond_broadcast(&n->reply_cond);
    }
    qemu_mutex_unlock(&n->reply_lock);
    trace_dsmvm_reply_received(seq, len, p != NULL);
    return p != NULL;
}
