/*
 * dsmvm: interrupts between nodes.
 *
 * Every node has every vCPU's APIC, so each decides destinations locally;
 * a delivery to an APIC whose vCPU runs on another node is sent there
 * (hw/intc/apic.c calls dsmvm_forward_apic_delivery()). APIC ID and logical
 * destination changes are broadcast so that remote copies stay current.
 * Level-triggered EOIs go to the IOAPIC on the device node.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "hw/intc/ioapic.h"
#include "internal.h"
#include "trace.h"

void dsmvm_forward_apic_delivery(CPUState *target, int apic_index,
                                 unsigned delivery_mode, uint8_t vector,
                                 uint8_t trigger_mode)
{
    DsmvmNode *n = dsmvm_node;
    int dst = n->cluster->cpu_node[target->cpu_index];
    DsmvmMsgApic m = {
        .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_APIC },
        .apic_index = apic_index,
        .delivery_mode = delivery_mode,
        .vector = vector,
        .trigger_mode = trigger_mode,
    };

    qatomic_inc(&n->counters.irqs_sent);
    trace_dsmvm_apic_forward(dst, apic_index, delivery_mode, vector,
                             trigger_mode);
    dsmvm_send(n, dst, &m, sizeof(m));
}

void dsmvm_apic_identity_changed(int apic_index, uint8_t id, uint8_t log_dest,
                                 uint8_t dest_mode)
{
    DsmvmNode *n = dsmvm_node;
    DsmvmMsgApicIdentity m = {
        .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_APIC_IDENTITY },
        .apic_index = apic_index,
        .id = id,
        .log_dest = log_dest,
        .dest_mode = dest_mode,
    };

    if (!n || !n->dsm) {
        return;
    }
    qatomic_inc(&n->counters.apic_updates_sent);
    dsmvm_broadcast(n, &m, sizeof(m));
}

bool dsmvm_ioapic_eoi_forwarded(int vector)
{
    DsmvmNode *n = dsmvm_node;
    DsmvmMsgEoi m = {
        .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_EOI },
        .vector = vector,
    };

    if (!dsmvm_active || !n->dsm || dsmvm_is_device_node(n)) {
        return false;
    }
    qatomic_inc(&n->counters.eois_forwarded);
    dsmvm_send(n, n->cluster->device_node, &m, sizeof(m));
    return true;
}

/* Main loop: an interrupt for a vCPU that this node runs. */
static void dsmvm_irq_apic(DsmvmNode *n, int src, const void *msg)
{
    const DsmvmMsgApic *m = msg;

    trace_dsmvm_apic_deliver(src, m->apic_index, m->delivery_mode, m->vector);
    if (!apic_dsmvm_deliver(m->apic_index, m->delivery_mode, m->vector,
                            m->trigger_mode)) {
        dsmvm_fatal(n, "node%d sent an interrupt for APIC %u, "
                    "whose vCPU does not run here", src, m->apic_index);
    }
    n->counters.irqs_received++;
}

/* Main loop: another node's vCPU changed its APIC's identity. */
static void dsmvm_irq_apic_identity(DsmvmNode *n, int src, const void *msg)
{
    const DsmvmMsgApicIdentity *m = msg;

    if (!apic_dsmvm_set_identity(m->apic_index, m->id, m->log_dest,
                                 m->dest_mode)) {
        dsmvm_fatal(n, "node%d updated APIC %u, which does not exist",
                    src, m->apic_index);
    }
}

/* Device node, main loop: a level-triggered EOI for the IOAPIC. */
static void dsmvm_irq_eoi(DsmvmNode *n, int src, const void *msg)
{
    const DsmvmMsgEoi *m = msg;

    if (m->vector > 255) {
        dsmvm_fatal(n, "node%d sent an EOI for vector %u", src, m->vector);
    }
    ioapic_eoi_broadcast(m->vector);
}

void dsmvm_irq_install(DsmvmNode *n)
{
    dsmvm_register_handler(n, DSMVM_MSG_APIC, DSMVM_CTX_MAIN_LOOP,
                           sizeof(DsmvmMsgApic), dsmvm_irq_apic);
    dsmvm_register_handler(n, DSMVM_MSG_APIC_IDENTITY, DSMVM_CTX_MAIN_LOOP,
                           sizeof(DsmvmMsgApicIdentity),
                           dsmvm_irq_apic_identity);
    if (dsmvm_is_device_node(n)) {
        dsmvm_register_handler(n, DSMVM_MSG_EOI, DSMVM_CTX_MAIN_LOOP,
                               sizeof(DsmvmMsgEoi), dsmvm_irq_eoi);
    }
}
