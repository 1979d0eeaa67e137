/*
 * dsmvm: the hooks that target-independent code calls (system/cpus.c), and
 * the two globals through which QEMU's core reaches the node object.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "hw/dsmvm/dsmvm.h"
#include "internal.h"
#include "../../dsmvm-hypercalls/dsmvm-hypercall.h"

/* Both set by the node object's complete(): see internal.h and dsmvm.h. */
DsmvmNode *dsmvm_node;
bool dsmvm_active;

bool dsmvm_cpu_is_remote(CPUState *cpu)
{
    DsmvmNode *n = dsmvm_node;

    return n && cpu->cpu_index < DSMVM_MAX_CPUS &&
           test_bit(cpu->cpu_index, n->remote_cpus);
}

bool dsmvm_cpuid(uint32_t index, uint32_t *eax, uint32_t *ebx, uint32_t *ecx,
                 uint32_t *edx)
{
    DsmvmNode *n = dsmvm_node;

    /* No features advertised: the guest sees no dsmvm host at all. */
    if (!n || !n->guest_features) {
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
        *eax = n->guest_features;
        *ebx = DSMVM_DOORBELL_PORT_DEFAULT;
        *ecx = 0;
        *edx = 0;
        return true;
    default:
        return false;
    }
}
