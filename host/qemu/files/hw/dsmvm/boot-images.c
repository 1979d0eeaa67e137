/*
 * dsmvm: where boot images go in guest RAM.
 *
 * The x86 Linux loader puts the initrd at the top of memory below 4 GiB. With
 * one guest NUMA node per dsmvm node that is memory homed on the last node,
 * while the boot CPU's node writes it (fw_cfg DMA), the kernel unpacks it and
 * then frees it to the last node's free lists: every page of it crosses the
 * network at least twice. Moving it to the top of the boot CPU's node keeps
 * all of that on the node that does the work.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "hw/boards.h"
#include "hw/qdev-core.h"
#include "system/numa.h"
#include "hw/dsmvm/dsmvm.h"
#include "trace.h"

/* Guest-physical range of the NUMA node that holds the boot CPU (vCPU 0). */
static bool boot_node_range(MachineState *ms, uint64_t *start, uint64_t *end)
{
    const CPUArchIdList *cpus = ms->possible_cpus;
    NumaState *ns = ms->numa_state;
    int nid;

    if (!ns || ns->num_nodes < 2 || !cpus || cpus->len < 1 ||
        !cpus->cpus[0].props.has_node_id) {
        return false;
    }
    nid = cpus->cpus[0].props.node_id;
    if (nid < 0 || nid >= ns->num_nodes) {
        return false;
    }
    /* NUMA nodes' memory is laid out in node order from address 0. */
    *start = 0;
    for (int i = 0; i < nid; i++) {
        *start += ns->nodes[i].node_mem;
    }
    *end = *start + ns->nodes[nid].node_mem;
    return true;
}

hwaddr dsmvm_initrd_addr(hwaddr addr, uint64_t size, hwaddr kernel_end)
{
    uint64_t start, end, moved;

    if (!dsmvm_active || !boot_node_range(MACHINE(qdev_get_machine()),
                                          &start, &end)) {
        return addr;
    }
    if (size > end || addr + size <= end) {
        /* too large for the node, or already below its end */
        return addr;
    }
    moved = (end - size) & ~(uint64_t)4095;
    if (moved < start || moved < kernel_end) {
        /* no room in the boot node above the decompressed kernel */
        trace_dsmvm_initrd_kept(addr, size, start, end);
        return addr;
    }
    trace_dsmvm_initrd_moved(addr, moved, size);
    return moved;
}
