/* scripts.c - the scripts dsm-mc runs: parsing, the fixed suite, and the
 * enumeration of every script of n operations. */
#include <stdio.h>
#include <string.h>

#include "mc.h"

/* The scripts `make test` explores exhaustively, in both layouts. */
const char *const mc_suite[] = {
    "0W0 1W0 2W0",        /* three writers race for one page */
    "1R0 1W0 2W0 1R0 1W0",        /* migratory: the second read is asked exclusively */
    "1R0 1W0 2R0 2W0 1R0 1bW0",   /* two migratory nodes; the store on another thread */
    "2R1 2W1 1W1 2R1 0R1 2W1",    /* an Exclusive copy given to a reader unwritten */
    "0R0 1W0 2R0",        /* readers around a writer, zero page first */
    "1W0 2R0 1W0",        /* a third node grants a read, then the owner writes again */
    "1W0 2R0 2W0 1R0",    /* ownership moves back and forth */
    "0W0 1R0 2R0 1W0",    /* copies invalidated by an upgrade */
    "2W1 0R1 1W1 0W1",    /* page 1: homed on node 2, interleaved on node 1 */
    "0W0 0W1 1R1 1R0",    /* message passing: data, then flag; flag, then data */
    "1W1 2W0 0R0 0R1",    /* both pages, crossing owners */
    "0U0 1W0 2R0",        /* write-update racing a write and a read */
    "1U1 2U1 0R1",        /* two write-updates racing a reader */
    "1W0 2U0 0R0 1R0",    /* write-update fetching from an owner */
    "1R0 1bW0 2W0",       /* two vCPUs of node 1: a fault on a page with a request in flight */
    "1W0 1bR0 2R0 0W0",   /* ... while other nodes read and write it */
    "1R0 1bW0 0U0",       /* ... while a write-update replaces it */
    NULL
};

int mc_parse_script(const char *text, struct mc_script *sc)
{
    memset(sc, 0, sizeof(*sc));
    const char *p = text;
    while (*p) {
        if (*p == ' ') {
            p++;
            continue;
        }
        const char *q = p + (p[0] ? 1 : 0);
        int thread = 0;
        if (*q == 'a' || *q == 'b') {
            thread = *q++ - 'a';
        }
        if (sc->nops == MC_MAX_OPS || p[0] < '0' || p[0] >= '0' + MC_NODES ||
            !q[0] || !strchr("RWU", q[0]) || q[1] < '0' || q[1] >= '0' + MC_PAGES) {
            fprintf(stderr, "dsm-mc: bad script \"%s\" (e.g. \"0W0 1R0 2U1 0bR1\", at most %d "
                    "ops)\n", text, MC_MAX_OPS);
            return -1;
        }
        struct mc_op *op = &sc->ops[sc->nops];
        op->node = (uint8_t)(p[0] - '0');
        op->kind = (uint8_t)q[0];
        op->page = (uint8_t)(q[1] - '0');
        op->thread = (uint8_t)thread;
        op->value = op->kind == MC_READ ? 0 : (uint64_t)sc->nops + 1;   /* unique per write */
        sc->nops++;
        p = q + 2;
    }
    return sc->nops ? 0 : -1;
}

/* Every script of n operations: node numbers never decrease along the
 * list, so each distinct set of per-node sequences appears once. */
int mc_next_script(struct mc_script *sc, int n, const char *kinds, int npages)
{
    int nk = (int)strlen(kinds), per_node = nk * npages;
    /* odometer over (node, kind, page) digits */
    for (int k = n - 1; k >= 0; k--) {
        struct mc_op *op = &sc->ops[k];
        int digit = (int)(strchr(kinds, op->kind) - kinds) * npages + op->page + 1;
        int node = op->node;
        if (digit == per_node) {
            digit = 0;
            node++;
        }
        if (node < MC_NODES) {
            op->node = (uint8_t)node;
            op->kind = (uint8_t)kinds[digit / npages];
            op->page = (uint8_t)(digit % npages);
            for (int j = k + 1; j < n; j++) {
                sc->ops[j].node = op->node;
                sc->ops[j].kind = (uint8_t)kinds[0];
                sc->ops[j].page = 0;
            }
            for (int j = 0; j < n; j++) {
                sc->ops[j].value = sc->ops[j].kind == MC_READ ? 0 : (uint64_t)j + 1;
            }
            return 1;
        }
    }
    return 0;
}

