/*
 * dsmvm: one guest run by several QEMU processes ("nodes").
 *
 * Hooks called from QEMU's core. Each is a cheap no-op unless a dsmvm-node
 * object was created on the command line.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_DSMVM_DSMVM_H
#define HW_DSMVM_DSMVM_H

#include "hw/core/cpu.h"

#define TYPE_DSMVM_NODE "dsmvm-node"

/*
 * True once a dsmvm-node object exists: this process is one node of a
 * cluster. A global, like the node object itself (hw/dsmvm/internal.h),
 * because the hooks in QEMU's core that test it have no path to the object.
 */
extern bool dsmvm_active;

/*
 * A vCPU that another node runs: it exists here (its APIC decides
 * destinations) but never executes.
 */
bool dsmvm_cpu_is_remote(CPUState *cpu);

/*
 * APIC (hw/intc/apic.c). Deliveries to an APIC whose vCPU runs elsewhere are
 * forwarded to that node, where apic_dsmvm_deliver() carries them out.
 * Delivery modes are the APIC's (APIC_DM_*), plus DSMVM_DM_SIPI for a
 * start-up IPI.
 */
#define DSMVM_DM_SIPI 0x100
void dsmvm_forward_apic_delivery(CPUState *target, int apic_index,
                                 unsigned delivery_mode, uint8_t vector,
                                 uint8_t trigger_mode);
/* False if there is no such APIC here or its vCPU is not run by this node. */
bool apic_dsmvm_deliver(int apic_index, unsigned delivery_mode,
                        uint8_t vector, uint8_t trigger_mode);
/*
 * A vCPU changed its APIC ID or logical destination: every node's copy must
 * follow.
 */
void dsmvm_apic_identity_changed(int apic_index, uint8_t id, uint8_t log_dest,
                                 uint8_t dest_mode);
bool apic_dsmvm_set_identity(int apic_index, uint8_t id, uint8_t log_dest,
                             uint8_t dest_mode);

/*
 * Feature bits offered to the guest (hypercalls/ABI.md); 0 hides the host.
 * All of them: doorbell, write-update, write-update publish.
 */
#define DSMVM_FEATURES_ALL 7u
/*
 * CPUID leaves of the hypercall ABI (hypercalls/ABI.md), for TCG's
 * cpu_x86_cpuid() and KVM's CPUID table. False for any other leaf, or when
 * this QEMU is not a dsmvm node or offers the guest no feature (the guest
 * then sees no dsmvm host).
 */
bool dsmvm_cpuid(uint32_t index, uint32_t *eax, uint32_t *ebx, uint32_t *ecx,
                 uint32_t *edx);
#define DSMVM_CPUID_FIRST_LEAF 0x40000100u
#define DSMVM_CPUID_LAST_LEAF  0x40000101u

/*
 * IOAPIC (hw/intc/ioapic.c): true if the EOI was sent to the device node
 * instead.
 */
bool dsmvm_ioapic_eoi_forwarded(int vector);

/*
 * x86 Linux loader (hw/i386/x86-common.c): where the initrd goes. Given the
 * loader's choice, returns an address at the top of the boot CPU's NUMA node
 * instead when that node has room above kernel_end (the end of the
 * decompressed kernel), so that the node that loads and unpacks the initrd
 * also homes it. Unchanged when this QEMU is not a dsmvm node.
 */
hwaddr dsmvm_initrd_addr(hwaddr addr, uint64_t size, hwaddr kernel_end);

#endif
