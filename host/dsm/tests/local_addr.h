/* local_addr.h - the address test and bench programs give rdma_cm by default. */
#ifndef DSM_TESTS_LOCAL_ADDR_H
#define DSM_TESTS_LOCAL_ADDR_H

#include <stddef.h>

/* The first IPv4 address of an interface that is up and not loopback (rxe cannot run on
 * lo), or 10.0.2.15, the test VM's dummy0, when there is none. Written to buf. */
const char *dsm_default_rdma_addr(char *buf, size_t len);

#endif
