/* transport_tcp.h - pieces of the TCP transport shared by its files. */
#ifndef DSM_TRANSPORT_TCP_H
#define DSM_TRANSPORT_TCP_H

#include "transport.h"

/* One connection during the handshake: I/O is non-blocking, bounded by an
 * absolute deadline (dsm_now_ms() clock). */
struct tcp_hs_conn {
    int fd;
    long long deadline;
};

int tcp_hs_send(void *opaque, const void *buf, size_t len);
int tcp_hs_recv(void *opaque, void *buf, size_t len);

/* "ip:port" of the far end of fd (or "unknown address"). */
void tcp_peer_name(int fd, char *buf, size_t len);

/* Accepts and authenticates every node above this one on listen_fd, as
 * admission.h says.  Fills fds[j] for each j > self.  Bad connections are
 * refused and logged, never fatal; -ETIMEDOUT (err set) when the connect
 * deadline passes, another -errno if the listener cannot wait at all. */
int tcp_accept_peers(struct dsm_transport *t, int listen_fd, int *fds, long long deadline,
                     char *err, size_t errlen);

#endif
