/*
 * dsmvm: guest-physical addresses and the host addresses of guest RAM.
 *
 * The PC machine's RAM (machine->ram) is laid out as [0, below_4g) at
 * guest-physical 0 and the rest from 4 GiB up. machine->ram is one RAM
 * block, or, with a guest NUMA topology (-numa node,memdev=...), a
 * container of the nodes' memory backends placed one after the other:
 * each backend is a RAM block of its own.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "hw/boards.h"
#include "hw/i386/x86.h"
#include "exec/memory.h"
#include "internal.h"

#define FOUR_GIB 0x100000000ULL

static MemoryRegion *machine_ram(void)
{
    return MACHINE(qdev_get_machine())->ram;
}

int dsmvm_ram_pieces(DsmvmRamPiece *out, int max)
{
    MemoryRegion *ram = machine_ram();
    MemoryRegion *sub;
    int count = 0;

    if (memory_region_is_ram(ram)) {
        if (max < 1) {
            return -1;
        }
        out[0] = (DsmvmRamPiece){ ram, 0, memory_region_size(ram),
                                  memory_region_get_ram_ptr(ram) };
        return 1;
    }
    /* numa_init_memdev_container() places the backends one after the other. */
    QTAILQ_FOREACH(sub, &ram->subregions, subregions_link) {
        int i;

        if (!memory_region_is_ram(sub) || count == max) {
            return -1;
        }
        for (i = count; i > 0 && out[i - 1].offset > sub->addr; i--) {
            out[i] = out[i - 1];
        }
        out[i] = (DsmvmRamPiece){ sub, sub->addr, memory_region_size(sub),
                                  memory_region_get_ram_ptr(sub) };
        count++;
    }
    return count;
}

/*
 * Host address of [off, off+len) of machine->ram, which must not cross
 * pieces.
 */
static void *ram_offset_to_host(uint64_t off, uint64_t len)
{
    DsmvmRamPiece pieces[DSMVM_MAX_RAM_PIECES];
    int count = dsmvm_ram_pieces(pieces, DSMVM_MAX_RAM_PIECES);

    for (int i = 0; i < count; i++) {
        if (off >= pieces[i].offset &&
            off + len <= pieces[i].offset + pieces[i].size) {
            return pieces[i].host + (off - pieces[i].offset);
        }
    }
    return NULL;
}

void *dsmvm_gpa_to_host(uint64_t gpa, uint64_t len)
{
    X86MachineState *x86ms = X86_MACHINE(qdev_get_machine());
    uint64_t below = x86ms->below_4g_mem_size;
    uint64_t above = x86ms->above_4g_mem_size;

    if (len == 0 || gpa + len < gpa) {
        return NULL;
    }
    if (gpa + len <= below) {
        return ram_offset_to_host(gpa, len);
    }
    if (gpa >= FOUR_GIB && gpa + len <= FOUR_GIB + above) {
        return ram_offset_to_host(below + (gpa - FOUR_GIB), len);
    }
    return NULL;
}

uint64_t dsmvm_host_to_gpa(void *host)
{
    X86MachineState *x86ms = X86_MACHINE(qdev_get_machine());
    uint64_t below = x86ms->below_4g_mem_size;
    DsmvmRamPiece pieces[DSMVM_MAX_RAM_PIECES];
    int count = dsmvm_ram_pieces(pieces, DSMVM_MAX_RAM_PIECES);

    for (int i = 0; i < count; i++) {
        uint8_t *h = host;
        if (h >= pieces[i].host && h < pieces[i].host + pieces[i].size) {
            uint64_t off = pieces[i].offset + (uint64_t)(h - pieces[i].host);
            return off < below ? off : off - below + FOUR_GIB;
        }
    }
    return UINT64_MAX;
}
