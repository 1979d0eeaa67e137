/* admission.c - the policy both listeners apply to incoming connections
 * (admission.h): handshake threads, their deadline, the cap, pushing out,
 * and the log of refusals. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admission.h"

#define REFUSALS_LOGGED_PER_SECOND 200

/* ---- the handshake thread ---- */

static int slot_send(void *opaque, const void *buf, size_t len)
{
    struct admission_slot *s = opaque;
    return s->adm->ops->hs_send(s->conn, buf, len);
}

static int slot_recv(void *opaque, void *buf, size_t len)
{
    struct admission_slot *s = opaque;
    return s->adm->ops->hs_recv(s->conn, buf, len);
}

/* Refuses, before authentication, an id this node does not accept now. */
static int admit(void *opaque, int peer, char *why, size_t whylen)
{
    struct admission_slot *s = opaque;
    struct admission *a = s->adm;
    int self = a->t->params.hs.self;
    if (peer < self) {
        snprintf(why, whylen, "node %d must wait for node %d to connect to it", peer, self);
        return -1;
    }
    pthread_mutex_lock(&a->lock);
    bool taken = a->admitted[peer];
    pthread_mutex_unlock(&a->lock);
    if (taken) {
        snprintf(why, whylen, "node %d is already connected", peer);
        return -1;
    }
    return 0;
}

/* Once a peer proved it knows the secret it is no longer pushed out; one
 * already pushed out stays out.  Decided under the lock that
 * admission_push_out_oldest() takes. */
static int authenticated(void *opaque, int peer)
{
    struct admission_slot *s = opaque;
    (void)peer;
    pthread_mutex_lock(&s->adm->lock);
    int out = s->pushed_out;
    s->authed = !out;
    pthread_mutex_unlock(&s->adm->lock);
    return out ? -1 : 0;
}

static void *handshake_main(void *arg)
{
    struct admission_slot *s = arg;
    struct admission *a = s->adm;
    struct dsm_hs_io io = { .opaque = s, .send = slot_send, .recv = slot_recv,
                            .admit = admit, .authenticated = authenticated };
    int peer = dsm_handshake(&a->t->params.hs, &io, -1, s->why, sizeof(s->why));
    if (peer < 0 && a->ops->handshake_failed) {
        a->ops->handshake_failed(s->conn);
    }
    pthread_mutex_lock(&a->lock);
    s->peer = peer;
    s->done = 1;
    pthread_mutex_unlock(&a->lock);
    if (write(a->wake[1], "x", 1) < 0) {
        /* the pipe cannot fill: it holds at most one byte per slot */
    }
    return NULL;
}

/* ---- refusals ---- */

static void log_unlogged(struct admission *a)
{
    if (a->unlogged) {
        dsm_transport_logf(a->t, DSM_LOG_WARN, "refused %d more %s(s) in one second without "
                           "logging each; the last %s", a->unlogged, a->ops->what,
                           a->last_refusal);
        a->unlogged = 0;
    }
}

void admission_refuse(struct admission *a, void *conn, const char *name, const char *why)
{
    long long now = dsm_now_ms();
    a->refused++;
    snprintf(a->last_refusal, sizeof(a->last_refusal), "from %s: %s", name, why);
    if (now - a->log_window >= 1000) {
        log_unlogged(a);
        a->log_window = now;
        a->logged = 0;
    }
    if (a->logged < REFUSALS_LOGGED_PER_SECOND) {
        a->logged++;
        dsm_transport_logf(a->t, DSM_LOG_WARN, "refused %s from %s: %s", a->ops->what, name,
                           why);
    } else {
        a->unlogged++;
    }
    if (conn) {
        a->ops->drop(conn);
    }
}

/* ---- the waiting thread ---- */

int admission_init(struct admission *a, struct dsm_transport *t, const struct admission_ops *ops,
                   void *owner, char *err, size_t errlen)
{
    const struct dsm_hs_params *hs = &t->params.hs;
    memset(a, 0, sizeof(*a));
    a->t = t;
    a->ops = ops;
    a->owner = owner;
    a->remaining = hs->num_nodes - hs->self - 1;
    if (pipe2(a->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = errno;
        snprintf(err, errlen, "pipe: %s", strerror(e));
        return -e;
    }
    pthread_mutex_init(&a->lock, NULL);
    return 0;
}

void admission_reap(struct admission *a, int i)
{
    struct admission_slot *s = &a->slots[i];
    pthread_join(s->thread, NULL);
    s->used = 0;
    if (s->peer < 0) {
        const char *io = a->ops->io_failure ? a->ops->io_failure(s->conn) : "";
        char why[700];
        if (s->pushed_out) {
            snprintf(why, sizeof(why), "pushed out after %lld ms (%d connections waiting to "
                     "authenticate): %s", dsm_now_ms() - s->started, DSM_HS_MAX_PENDING,
                     s->why);
        } else if (io[0]) {
            snprintf(why, sizeof(why), "%s (%s)", s->why, io);
        } else {
            snprintf(why, sizeof(why), "%s", s->why);
        }
        admission_refuse(a, s->conn, s->name, why);
        return;
    }
    pthread_mutex_lock(&a->lock);
    bool dup = a->admitted[s->peer];
    if (!dup) {
        a->admitted[s->peer] = true;
        a->ops->keep(a->owner, s->conn, s->peer);
    }
    pthread_mutex_unlock(&a->lock);
    if (dup) {
        char why[64];
        snprintf(why, sizeof(why), "node %d is already connected", s->peer);
        admission_refuse(a, s->conn, s->name, why);
        return;
    }
    a->remaining--;
    dsm_transport_logf(a->t, DSM_LOG_INFO, "node %d connected%s from %s", s->peer, a->ops->over,
                       s->name);
}

static void reap_finished(struct admission *a)
{
    char buf[DSM_HS_MAX_PENDING];
    while (read(a->wake[0], buf, sizeof(buf)) > 0) {
    }
    for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
        struct admission_slot *s = &a->slots[i];
        pthread_mutex_lock(&a->lock);
        int done = s->used && s->done;
        pthread_mutex_unlock(&a->lock);
        if (done) {
            admission_reap(a, i);
        }
    }
}

/* "2, 5": the nodes still awaited. */
static void waiting_for(const struct admission *a, char *buf, size_t len)
{
    const struct dsm_hs_params *hs = &a->t->params.hs;
    size_t off = 0;
    buf[0] = 0;
    for (int j = hs->self + 1; j < hs->num_nodes && off < len; j++) {
        if (!a->admitted[j]) {
            off += (size_t)snprintf(buf + off, len - off, "%s%d", off ? ", " : "", j);
        }
    }
}

int admission_wait(struct admission *a, long long deadline, long long *left, char *err,
                   size_t errlen)
{
    reap_finished(a);
    if (a->remaining == 0) {
        return 0;
    }
    *left = deadline - dsm_now_ms();
    if (*left <= 0) {
        char nodes[256];
        waiting_for(a, nodes, sizeof(nodes));
        int n = snprintf(err, errlen, "timed out after %d ms waiting for node(s) %s to connect",
                         a->t->params.connect_timeout_ms, nodes);
        if (a->refused && n >= 0 && (size_t)n < errlen) {
            snprintf(err + n, errlen - (size_t)n, " (%d connection(s) refused, the last %s)",
                     a->refused, a->last_refusal);
        }
        return -ETIMEDOUT;
    }
    return 1;
}

int admission_free_slot(struct admission *a, int *leaving)
{
    int free_slot = -1;
    if (leaving) {
        *leaving = 0;
    }
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
        struct admission_slot *s = &a->slots[i];
        if (!s->used) {
            free_slot = free_slot >= 0 ? free_slot : i;
        } else if (leaving && (s->pushed_out || s->done)) {
            *leaving = 1;   /* its thread ends (or ended): a slot frees soon */
        }
    }
    pthread_mutex_unlock(&a->lock);
    return free_slot;
}

void admission_start(struct admission *a, int i, void *conn, const char *name,
                     long long deadline)
{
    struct admission_slot *s = &a->slots[i];
    memset(s, 0, sizeof(*s));
    s->adm = a;
    s->conn = conn;
    s->started = dsm_now_ms();
    long long hs_deadline = s->started + DSM_HS_TIMEOUT_MS;
    a->ops->set_deadline(conn, hs_deadline < deadline ? hs_deadline : deadline);
    snprintf(s->name, sizeof(s->name), "%s", name);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = pthread_create(&s->thread, &attr, handshake_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        admission_refuse(a, conn, s->name, "cannot start a handshake thread");
        return;
    }
    s->used = 1;
}

int admission_push_out_oldest(struct admission *a)
{
    int oldest = -1;
    pthread_mutex_lock(&a->lock);
    for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
        struct admission_slot *s = &a->slots[i];
        if (s->used && !s->done && !s->authed && !s->pushed_out &&
            (oldest < 0 || s->started < a->slots[oldest].started)) {
            oldest = i;
        }
    }
    if (oldest >= 0) {
        a->slots[oldest].pushed_out = 1;
        a->ops->interrupt(a->slots[oldest].conn);   /* its handshake fails at once */
    }
    pthread_mutex_unlock(&a->lock);
    return oldest;
}

void admission_finish(struct admission *a, int rc)
{
    for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
        if (a->slots[i].used) {
            a->ops->interrupt(a->slots[i].conn);
        }
    }
    for (int i = 0; i < DSM_HS_MAX_PENDING; i++) {
        struct admission_slot *s = &a->slots[i];
        if (!s->used) {
            continue;
        }
        pthread_join(s->thread, NULL);
        s->used = 0;
        if (s->peer < 0 || a->admitted[s->peer] || a->ops->refuse_late) {
            admission_refuse(a, s->conn, s->name, rc ? "connect deadline passed" :
                             "every node is connected");
        } else {
            a->ops->drop(s->conn);   /* authenticated just too late: the start failed */
        }
    }
    log_unlogged(a);
    close(a->wake[0]);
    close(a->wake[1]);
    pthread_mutex_destroy(&a->lock);
}
