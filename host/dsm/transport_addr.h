/* transport_addr.h - the "host:port" addresses of the TCP and RDMA transports. */
#ifndef DSM_TRANSPORT_ADDR_H
#define DSM_TRANSPORT_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Splits addr at its last ':' ("[v6]:port" loses its brackets) and resolves
 * it to its first address: 0 with *ss (and its length in *sslen unless
 * sslen is NULL), or -errno with a message in err (-EINVAL for a malformed
 * address or an unknown name). */
int dsm_resolve_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
                     size_t errlen);

#endif
