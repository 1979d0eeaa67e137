/*
 * dsmvm: guest RAM under the DSM, and which node manages which part.
 *
 * Without a guest NUMA topology guest RAM is one block whose pages are
 * managed interleaved over the nodes. With one (-numa node,memdev=...,cpus=...
 * per dsmvm node), each NUMA node's memory is managed by the dsmvm node that
 * runs that NUMA node's vCPUs: the guest's node-local allocations (per-CPU
 * data, page tables, kernel stacks, page cache of local tasks) then fault
 * on their own node only, and a first touch needs no message.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "system/hostmem.h"
#include "system/numa.h"
#include "dsm.h"
#include "internal.h"

/* The dsmvm node that runs every vCPU of NUMA node nid, or interleaved. */
static int numa_node_home(DsmvmNode *n, MachineState *ms, int nid)
{
    const CPUArchIdList *cpus = ms->possible_cpus;
    int home = DSM_HOME_INTERLEAVE;

    for (int i = 0; cpus && i < cpus->len && i < n->cluster->num_cpus; i++) {
        const CpuInstanceProperties *props = &cpus->cpus[i].props;

        if (!props->has_node_id || props->node_id != nid) {
            continue;
        }
        if (home != DSM_HOME_INTERLEAVE && home != n->cluster->cpu_node[i]) {
            /* split over dsmvm nodes: no single home */
            return DSM_HOME_INTERLEAVE;
        }
        home = n->cluster->cpu_node[i];
    }
    return home;
}

static int piece_home(DsmvmNode *n, MachineState *ms,
                      const DsmvmRamPiece *piece)
{
    NumaState *ns = ms->numa_state;

    for (int nid = 0; ns && nid < ns->num_nodes; nid++) {
        HostMemoryBackend *be = ns->nodes[nid].node_memdev;

        if (be && host_memory_backend_get_memory(be) == piece->mr) {
            return numa_node_home(n, ms, nid);
        }
    }
    return DSM_HOME_INTERLEAVE;
}

bool dsmvm_ram_register(DsmvmNode *n, MachineState *ms, char *homes,
                        size_t homes_len, Error **errp)
{
    DsmvmRamPiece pieces[DSMVM_MAX_RAM_PIECES];
    int count = dsmvm_ram_pieces(pieces, DSMVM_MAX_RAM_PIECES);
    size_t used = 0;

    if (count <= 0) {
        error_setg(errp, "guest RAM is not made of at most %d RAM blocks "
                   "(one per guest NUMA node)", DSMVM_MAX_RAM_PIECES);
        return false;
    }
    homes[0] = '\0';
    for (int i = 0; i < count; i++) {
        int home = piece_home(n, ms, &pieces[i]);
        int r = dsm_add_region_home(n->dsm, pieces[i].host, pieces[i].size,
                                    home);

        if (r < 0) {
            error_setg_errno(errp, -r, "cannot put guest RAM [0x%" PRIx64
                             ", +%" PRIu64 ") under the DSM",
                             pieces[i].offset, pieces[i].size);
            return false;
        }
        used += snprintf(homes + used, used < homes_len ? homes_len - used : 0,
                         "%s%d", i ? "," : "", home);
    }
    if (used >= homes_len) {
        error_setg(errp, "too many RAM blocks to describe");
        return false;
    }
    return true;
}
