/* home.h - which node manages each page (its "home").
 *
 * A region's pages are either interleaved over the nodes (page p is
 * managed by node p % n: spreads an unknown access pattern evenly) or all
 * managed by one node (the guest's NUMA node for that memory: a node's own
 * first touches and its own pages' faults then need no message at all).
 * Pure functions, shared by the protocol and the wire validation.
 */
#ifndef DSM_HOME_H
#define DSM_HOME_H

#include <stdint.h>

#include "dsm.h"

struct dsm_home_region {
    uint64_t first_page;
    uint64_t npages;
    int home;              /* node id, or DSM_HOME_INTERLEAVE */
};

struct dsm_home_map {
    int num_nodes;
    int nregions;
    struct dsm_home_region r[DSM_MAX_REGIONS];
};

/* Manager of global page p (p must be inside a region; -1 if not). */
int dsm_home_of(const struct dsm_home_map *m, uint64_t p);

/* Number of pages node `self` manages, and the dense slot of page p among
 * them (p must be managed by self). */
uint64_t dsm_home_count(const struct dsm_home_map *m, int self);
uint64_t dsm_home_slot(const struct dsm_home_map *m, int self, uint64_t p);

#endif
