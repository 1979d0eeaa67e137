/*
 * dsmvm: the configuration check between nodes at connect time.
 *
 * Every node sends a HELLO with its fingerprint ("key=value;..." of what
 * must agree between nodes: machine, vCPUs, RAM, cluster file, guest
 * features, RAM homes) to every peer as soon as it is connected, and waits
 * until every peer's HELLO has arrived and agrees with its own.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "internal.h"
#include "trace.h"

/* "a=1;b=2" lists: the first key whose values differ, for a clear refusal. */
static char *fingerprint_difference(DsmvmNode *n, const char *theirs,
                                    int peer)
{
    g_auto(GStrv) a = g_strsplit(n->fingerprint, ";", -1);
    g_auto(GStrv) b = g_strsplit(theirs, ";", -1);

    for (int i = 0; a[i]; i++) {
        const char *eq = strchr(a[i], '=');
        size_t klen = eq ? (size_t)(eq - a[i]) : strlen(a[i]);
        const char *other = NULL;

        for (int j = 0; b[j]; j++) {
            if (!strncmp(a[i], b[j], klen) && b[j][klen] == '=') {
                other = b[j] + klen + 1;
            }
        }
        if (!other || !eq || strcmp(eq + 1, other)) {
            return g_strdup_printf("node%d has %.*s=%s but node%u has %s", peer,
                                   (int)klen, a[i], other ? other : "(nothing)",
                                   n->node_id, a[i]);
        }
    }
    return g_strdup_printf("node%d's configuration differs: %s", peer, theirs);
}

/* Receive thread: a peer's HELLO. */
static void hello_receive(DsmvmNode *n, int src, const void *msg)
{
    const DsmvmMsgHello *m = msg;

    qemu_mutex_lock(&n->reply_lock);
    if (strcmp(m->fingerprint, n->fingerprint)) {
        trace_dsmvm_hello_mismatch(src, m->fingerprint);
        if (!n->hello_error) {
            n->hello_error = fingerprint_difference(n, m->fingerprint, src);
        }
    } else {
        n->hellos_ok++;
        trace_dsmvm_hello_accepted(src, n->hellos_ok);
    }
    qemu_cond_broadcast(&n->reply_cond);
    qemu_mutex_unlock(&n->reply_lock);
}

void dsmvm_hello_install(DsmvmNode *n)
{
    dsmvm_register_handler(n, DSMVM_MSG_HELLO, DSMVM_CTX_RECEIVE,
                           sizeof(DsmvmMsgHello), hello_receive);
}

bool dsmvm_hello_exchange(DsmvmNode *n, Error **errp)
{
    DsmvmMsgHello hello = { .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_HELLO } };
    int64_t deadline = g_get_monotonic_time() +
                       n->cluster->connect_timeout_s * G_USEC_PER_SEC;

    pstrcpy(hello.fingerprint, sizeof(hello.fingerprint), n->fingerprint);
    trace_dsmvm_hello_send(n->cluster->num_nodes - 1, hello.fingerprint);
    dsmvm_broadcast(n, &hello, sizeof(hello));
    qemu_mutex_lock(&n->reply_lock);
    while (!n->hello_error && n->hellos_ok < n->cluster->num_nodes - 1) {
        if (g_get_monotonic_time() > deadline) {
            qemu_mutex_unlock(&n->reply_lock);
            error_setg(errp, "peers did not confirm their configuration "
                       "within %d s", n->cluster->connect_timeout_s);
            return false;
        }
        qemu_cond_timedwait(&n->reply_cond, &n->reply_lock, 100);
    }
    qemu_mutex_unlock(&n->reply_lock);
    if (n->hello_error) {
        error_setg(errp, "inconsistent configuration: %s", n->hello_error);
        return false;
    }
    return true;
}
