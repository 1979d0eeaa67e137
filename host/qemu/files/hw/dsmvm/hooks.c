/*
 * dsmvm: hook state used by target-independent code (system/cpus.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "hw/dsmvm/dsmvm.h"
#include "../../dsmvm-hypercalls/dsmvm-hypercall.h"

#define DSMVM_MAX_CPUS 1024

bool dsmvm_active;
uint32_t dsmvm_guest_features = DSMVM_FEATURE_DOORBELL |
                                DSMVM_FEATURE_WRITE_UPDATE;
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

bool dsmvm_cpuid(uint32_t index, uint32_t *eax, uint32_t *ebx, uint32_t *ecx,
                 uint32_t *edx)
{
    /* No features advertised: the guest sees no dsmvm host at all. */
    if (!dsmvm_active || !dsmvm_guest_features) {
        return false;
    }
    switch (index) {
    case DSMVM_CPUID_SIGNATURE:
        *eax = DSMVM_CPUID_MAX_LEAF;
        *ebx = DSMVM_SIGNATURE_EBX;
        *ecx = DSMVM_SIGNATURE_ECX;
        *edx = DSMVM_SIGNATURE_EDX;
        return true;
    case DSMVM_CPUID_FEATURES:
        *eax = dsmvm_guest_features;
        *ebx = DSMVM_DOORBELL_PORT_DEFAULT;
        *ecx = 0;
        *edx = 0;
        return true;
    default:
        return false;
    }
}
