/* transport_addr.c - "host:port" to a socket address, for TCP and RDMA alike. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "transport_addr.h"

/* A missing host or port makes a malformed address, not something for
 * getaddrinfo() to fill in (an empty port would be port 0). */
static int split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon || colon == addr || (size_t)(colon - addr) >= hostlen || !colon[1] ||
        strlen(colon + 1) >= portlen) {
        return -1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {   /* [v6]:port */
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = 0;
    }
    strcpy(port, colon + 1);
    return 0;
}

int dsm_resolve_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
                     size_t errlen)
{
    char host[256], port[32];
    struct addrinfo hints, *ai;
    if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0) {
        snprintf(err, errlen, "bad address '%s' (want host:port)", addr ? addr : "(null)");
        return -EINVAL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        int e = rc == EAI_SYSTEM && errno ? errno : rc == EAI_MEMORY ? ENOMEM :
                rc == EAI_AGAIN ? EAGAIN : EINVAL;
        snprintf(err, errlen, "cannot resolve '%s': %s", addr, gai_strerror(rc));
        return -e;
    }
    size_t len = ai->ai_addrlen < sizeof(*ss) ? ai->ai_addrlen : sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, ai->ai_addr, len);
    if (sslen) {
        *sslen = (socklen_t)len;
    }
    freeaddrinfo(ai);
    return 0;
}
