/* local_addr.c - the address test and bench programs give rdma_cm by default. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>

#include "local_addr.h"

const char *dsm_default_rdma_addr(char *buf, size_t len)
{
    struct ifaddrs *ifa;
    snprintf(buf, len, "10.0.2.15");
    if (getifaddrs(&ifa) < 0) {
        return buf;
    }
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
            !(i->ifa_flags & IFF_LOOPBACK)) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf,
                      (socklen_t)len);
            break;
        }
    }
    freeifaddrs(ifa);
    return buf;
}
