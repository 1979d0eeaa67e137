/*
 * dsmvm: messages between nodes, in and out.
 *
 * Each file registers the message types it owns (dsmvm_register_handler(),
 * from its install function) with the context its handler runs in: the
 * DSM's receive thread, or the main loop through the inbox. A message is
 * checked by wire.c first, then here against its handler; a message that
 * no handler takes is a protocol error, which ends this node.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "dsm.h"
#include "internal.h"
#include "trace.h"

/* Large enough for any message type (checked when a handler registers). */
#define DSMVM_MSG_MAX_LEN 512

typedef struct DsmvmInboxItem {
    DsmvmMsgHandler *fn;
    int src;
    uint64_t data[];    /* aligned for any message */
} DsmvmInboxItem;

void dsmvm_register_handler(DsmvmNode *n, unsigned type,
                            DsmvmMsgContext context, size_t min_len,
                            DsmvmMsgHandler *fn)
{
    assert(type > 0 && type < DSMVM_MSG_TYPE_MAX);
    assert(!n->handlers[type].fn);
    assert(min_len >= sizeof(DsmvmMsgHeader) && min_len <= DSMVM_MSG_MAX_LEN);
    n->handlers[type] = (DsmvmMsgHandlerEntry){
        .fn = fn,
        .context = context,
        .min_len = min_len,
    };
}

void dsmvm_inbox_push(DsmvmNode *n, DsmvmMsgHandler *fn, int src,
                      const void *data, size_t len)
{
    DsmvmInboxItem *item = g_malloc(sizeof(*item) + len);

    item->fn = fn;
    item->src = src;
    memcpy(item->data, data, len);
    qemu_mutex_lock(&n->inbox_lock);
    g_queue_push_tail(&n->inbox, item);
    qemu_mutex_unlock(&n->inbox_lock);
    qemu_bh_schedule(n->inbox_bh);
}

/* Main loop, BQL held: carry out what needs the machine. */
static void dsmvm_inbox_bh(void *opaque)
{
    DsmvmNode *n = opaque;
    DsmvmInboxItem *item;

    for (;;) {
        qemu_mutex_lock(&n->inbox_lock);
        item = g_queue_pop_head(&n->inbox);
        qemu_mutex_unlock(&n->inbox_lock);
        if (!item) {
            return;
        }
        item->fn(n, item->src, item->data);
        g_free(item);
    }
}

/* Runs on the DSM's receive thread: must not take the BQL. */
void dsmvm_app_message(void *opaque, int src, const void *buf, size_t len)
{
    DsmvmNode *n = opaque;
    const char *why = NULL;
    unsigned type = dsmvm_msg_check(buf, len, &why);
    const DsmvmMsgHandlerEntry *h;
    uint64_t copy[DSMVM_MSG_MAX_LEN / sizeof(uint64_t)];

    if (!type || src < 0 || src >= n->cluster->num_nodes ||
        src == (int)n->node_id) {
        dsmvm_fatal(n, "malformed message from node%d: %s", src,
                    why ? why : "bad source");
    }
    h = &n->handlers[type];
    if (!h->fn) {
        dsmvm_fatal(n, "node%d sent message type %u, which node%u does not "
                    "handle", src, type, n->node_id);
    }
    if (len < h->min_len) {
        dsmvm_fatal(n, "node%d sent message type %u with %zu bytes, "
                    "shorter than its %zu", src, type, len, h->min_len);
    }
    trace_dsmvm_msg_received(src, type, len);
    if (h->context == DSMVM_CTX_MAIN_LOOP) {
        dsmvm_inbox_push(n, h->fn, src, buf, len);
        return;
    }
    /* The DSM's buffer may not be aligned for the message's fields. */
    assert(len <= sizeof(copy));
    memcpy(copy, buf, len);
    h->fn(n, src, copy);
}

void dsmvm_dispatch_init(DsmvmNode *n)
{
    qemu_mutex_init(&n->inbox_lock);
    g_queue_init(&n->inbox);
    /*
     * Not a device's BH: it touches no device state, so there is no
     * MemReentrancyGuard to pass (NULL is what qemu_bh_new() passes).
     */
    n->inbox_bh = qemu_bh_new_guarded(dsmvm_inbox_bh, n, NULL);
}

void dsmvm_send(DsmvmNode *n, int dst, const void *msg, size_t len)
{
    if (dsm_send_app(n->dsm, dst, msg, len) < 0 &&
        !qatomic_read(&n->shutting_down)) {
        dsmvm_fatal(n, "cannot send to node%d: the connection is gone", dst);
    }
}

void dsmvm_broadcast(DsmvmNode *n, const void *msg, size_t len)
{
    for (int i = 0; i < n->cluster->num_nodes; i++) {
        if (i != (int)n->node_id) {
            dsmvm_send(n, i, msg, len);
        }
    }
}
