/* transport_tcp_accept.c - admitting peers on the listening socket.
 *
 * The policy (a handshake thread per connection, its deadline, the cap,
 * pushing out, logging refusals) is admission.c's; this file brings it the
 * connections accept4() returns and says what to do with a socket.  While
 * every handshake slot is busy it stops accepting and lets the kernel queue,
 * pushing out the oldest handshake that has not authenticated; a real peer
 * whose attempt is pushed out connects again (see connect_peer()).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admission.h"
#include "transport_tcp.h"

static int poll_until(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - dsm_now_ms();
        if (left <= 0) {
            return DSM_HS_IO_TIMEOUT;
        }
        struct pollfd pfd = { fd, events, 0 };
        int r = poll(&pfd, 1, (int)left);
        if (r > 0) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return DSM_HS_IO_CLOSED;
        }
    }
}

int tcp_hs_send(void *opaque, const void *buf, size_t len)
{
    struct tcp_hs_conn *c = opaque;
    const uint8_t *p = buf;
    while (len) {
        ssize_t r = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (poll_until(c->fd, POLLOUT, c->deadline) < 0) {
                return -1;
            }
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int tcp_hs_recv(void *opaque, void *buf, size_t len)
{
    struct tcp_hs_conn *c = opaque;
    uint8_t *p = buf;
    while (len) {
        ssize_t r = recv(c->fd, p, len, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = poll_until(c->fd, POLLIN, c->deadline);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return DSM_HS_IO_CLOSED;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

void tcp_peer_name(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "";
    snprintf(buf, len, "unknown address");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
        return;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
    }
}

/* ---- what admission.c does with a socket ---- */

static void conn_set_deadline(void *conn, long long deadline)
{
    ((struct tcp_hs_conn *)conn)->deadline = deadline;
}

static void conn_interrupt(void *conn)
{
    shutdown(((struct tcp_hs_conn *)conn)->fd, SHUT_RDWR);
}

static void conn_keep(void *fds, void *conn, int peer)
{
    ((int *)fds)[peer] = ((struct tcp_hs_conn *)conn)->fd;
}

static void conn_drop(void *conn)
{
    close(((struct tcp_hs_conn *)conn)->fd);
}

static const struct admission_ops tcp_admission = {
    .hs_send = tcp_hs_send,
    .hs_recv = tcp_hs_recv,
    .set_deadline = conn_set_deadline,
    .interrupt = conn_interrupt,
    .keep = conn_keep,
    .drop = conn_drop,
    .what = "connection",
    .over = "",
    .refuse_late = false,
};

static void back_off(void)
{
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    nanosleep(&ts, NULL);
}

int tcp_accept_peers(struct dsm_transport *t, int listen_fd, int *fds, long long deadline,
                     char *err, size_t errlen)
{
    struct tcp_hs_conn conns[DSM_HS_MAX_PENDING];   /* one per admission slot */
    struct admission adm;
    long long left;
    int rc = admission_init(&adm, t, &tcp_admission, fds, err, errlen);
    if (rc < 0) {
        return rc;
    }
    while ((rc = admission_wait(&adm, deadline, &left, err, errlen)) > 0) {
        int leaving;
        int slot = admission_free_slot(&adm, &leaving);
        /* While full and one is already on its way out, only wait for it. */
        struct pollfd pfd[2] = { { adm.wake[0], POLLIN, 0 }, { listen_fd, POLLIN, 0 } };
        int npfd = (slot >= 0 || !leaving) ? 2 : 1;
        if (poll(pfd, (nfds_t)npfd, (int)left) <= 0 || npfd < 2 || !(pfd[1].revents & POLLIN)) {
            continue;
        }
        if (slot < 0) {
            if (admission_push_out_oldest(&adm) < 0) {
                /* every slot holds a peer that knows the secret: let the kernel queue */
                back_off();
            }
            continue;
        }
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            char name[64];
            tcp_peer_name(fd, name, sizeof(name));
            conns[slot].fd = fd;
            admission_start(&adm, slot, &conns[slot], name, deadline);
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            back_off();   /* out of descriptors */
        }
    }
    admission_finish(&adm, rc);
    return rc;
}
