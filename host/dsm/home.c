/* home.c - page to manager mapping (see home.h). */
#include "home.h"

static const struct dsm_home_region *region_of(const struct dsm_home_map *m, uint64_t p)
{
    for (int i = 0; i < m->nregions; i++) {
        if (p >= m->r[i].first_page && p - m->r[i].first_page < m->r[i].npages) {
            return &m->r[i];
        }
    }
    return NULL;
}

int dsm_home_of(const struct dsm_home_map *m, uint64_t p)
{
    const struct dsm_home_region *r = region_of(m, p);
    if (!r) {
        return -1;
    }
    return r->home == DSM_HOME_INTERLEAVE ? (int)(p % (uint64_t)m->num_nodes) : r->home;
}

/* Slots a region gives `self`: an interleaved region's pages that self
 * manages are dense under (p - first) / n. */
static uint64_t region_slots(const struct dsm_home_region *r, int n, int self)
{
    if (r->home == DSM_HOME_INTERLEAVE) {
        return (r->npages + (uint64_t)n - 1) / (uint64_t)n;
    }
    return r->home == self ? r->npages : 0;
}

uint64_t dsm_home_count(const struct dsm_home_map *m, int self)
{
    uint64_t total = 0;
    for (int i = 0; i < m->nregions; i++) {
        total += region_slots(&m->r[i], m->num_nodes, self);
    }
    return total;
}

uint64_t dsm_home_slot(const struct dsm_home_map *m, int self, uint64_t p)
{
    uint64_t base = 0;
    for (int i = 0; i < m->nregions; i++) {
        const struct dsm_home_region *r = &m->r[i];
        if (p >= r->first_page && p - r->first_page < r->npages) {
            uint64_t off = p - r->first_page;
            return base + (r->home == DSM_HOME_INTERLEAVE ? off / (uint64_t)m->num_nodes : off);
        }
        base += region_slots(r, m->num_nodes, self);
    }
    return UINT64_MAX;
}
