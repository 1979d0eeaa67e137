/*
 * dsmvm: hook state used by target-independent code (system/cpus.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "hw/dsmvm/dsmvm.h"

#define DSMVM_MAX_CPUS 1024

bool dsmvm_active;
static DECLARE_BITMAP(remote_cpus, DSMVM_MAX_CPUS);

bool dsmvm_cpu_is_remote(CPUState *cpu)
{
    return dsmvm_active && cpu->cpu_index < DSMVM_MAX_CPUS &&
           test_bit(cpu->cpu_index, remote_cpus);
}

void dsmvm_set_cpu_remote(int cpu_index, bool remote)
{
    assert(cpu_index >= 0 && cpu_index < DSMVM_MAX_CPUS);
    if (remote) {
        set_bit(cpu_index, remote_cpus);
    } else {
        clear_bit(cpu_index, remote_cpus);
    }
}
