/*
 * dsmvm: guest-physical addresses and the host addresses of guest RAM.
 *
 * The PC machine's RAM is one block: [0, below_4g) at guest-physical 0 and
 * the rest from 4 GiB up.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "hw/boards.h"
#include "hw/i386/x86.h"
#include "internal.h"

#define FOUR_GIB 0x100000000ULL

void *dsmvm_gpa_to_host(uint64_t gpa, uint64_t len)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    uint8_t *ram = memory_region_get_ram_ptr(ms->ram);
    uint64_t below = X86_MACHINE(ms)->below_4g_mem_size;
    uint64_t above = X86_MACHINE(ms)->above_4g_mem_size;

    if (len == 0 || gpa + len < gpa) {
        return NULL;
    }
    if (gpa + len <= below) {
        return ram + gpa;
    }
    if (gpa >= FOUR_GIB && gpa + len <= FOUR_GIB + above) {
        return ram + below + (gpa - FOUR_GIB);
    }
    return NULL;
}

uint64_t dsmvm_host_to_gpa(void *host)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    uint64_t below = X86_MACHINE(ms)->below_4g_mem_size;
    uint64_t off = (uint8_t *)host - (uint8_t *)memory_region_get_ram_ptr(ms->ram);

    return off < below ? off : off - below + FOUR_GIB;
}
