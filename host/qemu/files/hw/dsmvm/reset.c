/*
 * dsmvm: a guest reset restarts the guest on every node.
 *
 * A reset can start on any node: a guest write to a reset port (forwarded
 * to the device node, where the device acts), a triple fault on the node of
 * the vCPU, or QMP system_reset on any node. The node whose reset did not
 * come from a peer (the initiator) starts a round: it sends RESET to every
 * peer, each peer resets its own copy of the machine (without telling
 * anybody else) and answers RESET_DONE.
 *
 * Order matters for one vCPU only. After a reset every vCPU but the BSP
 * (vCPU 0, always on the device node) waits for INIT/SIPI; the BSP runs the
 * firmware, which starts the APs of every node. A node that resets after
 * the BSP has started its APs would put them back into wait-for-SIPI. So:
 * - the device node, when it initiates, keeps the BSP halted until every
 *   peer has answered;
 * - another initiator sends RESET to the device node last, once every other
 *   peer has answered: when the device node resets, every AP is ready.
 * - after any reset, the device node keeps the BSP halted while a round of
 *   its own is still open (two nodes that initiate at once each reset twice,
 *   then stop: a reset from a peer never starts a round).
 *
 * A guest reboot is usually two rounds: SeaBIOS, finding itself already
 * shadowed in RAM after the first reset, restores its image and resets the
 * machine once more (qemu_reboot() in SeaBIOS), as it does in one QEMU.
 *
 * What a reset changes beyond QEMU's own devices: the write-update areas
 * of the old kernel are forgotten (hypercall.c); a non-device node maps the
 * firmware area as RAM again (io-forward.c), since its chipset was reset
 * too. Guest RAM keeps its content, as on real hardware, and stays under
 * the DSM: page ownership and copies are not guest-visible state, so
 * coherence holds across the reset without touching them. Forwarded I/O in
 * flight completes (the device node always answers). The clocks keep
 * running through a reset, so the time alignment made at start holds.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "hw/core/cpu.h"
#include "system/reset.h"
#include "system/runstate.h"
#include "internal.h"
#include "trace.h"

/* A peer that has not reset by then is stuck: stop rather than hang. */
#define DSMVM_RESET_TIMEOUT_MS 30000

static void reset_hold_bsp(CPUState *cs, run_on_cpu_data data)
{
    cs->halted = 1;
}

static void reset_release_bsp(CPUState *cs, run_on_cpu_data data)
{
    cs->halted = 0;
}

/* Main loop: every peer has reset; the BSP may start the firmware. */
static void reset_round_done(DsmvmNode *n)
{
    timer_del(n->reset.timer);
    trace_dsmvm_reset_round_done(n->reset.round);
    if (dsmvm_is_device_node(n)) {
        async_run_on_cpu(qemu_get_cpu(0), reset_release_bsp, RUN_ON_CPU_NULL);
    }
}

static void reset_send(DsmvmNode *n, int dst, unsigned type, uint32_t round)
{
    DsmvmMsgReset m = {
        .h = { DSMVM_WIRE_MAGIC, type },
        .round = round,
    };

    trace_dsmvm_reset_send(dst, type, round);
    dsmvm_send(n, dst, &m, sizeof(m));
}

/*
 * Sends RESET to the device node once it is the only peer left to answer
 * (a round started on another node).
 */
static void reset_round_advance(DsmvmNode *n)
{
    uint64_t device = 1ULL << n->cluster->device_node;

    if (!n->reset.waiting) {
        reset_round_done(n);
    } else if (n->reset.device_node_later && n->reset.waiting == device) {
        n->reset.device_node_later = false;
        reset_send(n, n->cluster->device_node, DSMVM_MSG_RESET, n->reset.round);
    }
}

/* Main loop: this node reset on its own; every peer must reset too. */
static void reset_round_start(DsmvmNode *n)
{
    int self = n->node_id;

    /* 0 is no round (the wire refuses it). */
    n->reset.round = n->reset.round == UINT32_MAX ? 1 : n->reset.round + 1;
    n->reset.waiting = 0;
    for (int i = 0; i < n->cluster->num_nodes; i++) {
        if (i != self) {
            n->reset.waiting |= 1ULL << i;
        }
    }
    n->reset.device_node_later = !dsmvm_is_device_node(n);
    trace_dsmvm_reset_round_start(n->reset.round, n->reset.waiting);
    info_report("dsmvm node%u: the guest reset here; resetting it on every "
                "node", n->node_id);
    timer_mod(n->reset.timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
              DSMVM_RESET_TIMEOUT_MS);
    for (int i = 0; i < n->cluster->num_nodes; i++) {
        if (i != self && i != n->cluster->device_node) {
            reset_send(n, i, DSMVM_MSG_RESET, n->reset.round);
        }
    }
    if (!n->reset.device_node_later && n->cluster->device_node != self) {
        reset_send(n, n->cluster->device_node, DSMVM_MSG_RESET,
                   n->reset.round);
    }
    reset_round_advance(n);
}

/*
 * Main loop, after the reset that reset_handler() saw has completed (and
 * before the machine's chipset state could matter to a vCPU here: APs wait
 * for the BSP, which waits for the RESET_DONE sent from here).
 */
static void reset_post_bh(void *opaque)
{
    DsmvmNode *n = opaque;
    uint64_t acks = n->reset.post_acks;
    bool initiate = n->reset.post_initiate;

    n->reset.post_acks = 0;
    n->reset.post_initiate = false;
    if (!dsmvm_is_device_node(n)) {
        dsmvm_io_bios_area_as_ram(n);
    }
    for (int i = 0; i < n->cluster->num_nodes; i++) {
        if (acks & (1ULL << i)) {
            reset_send(n, i, DSMVM_MSG_RESET_DONE, n->reset.ack_round[i]);
        }
    }
    if (initiate) {
        reset_round_start(n);
    }
}

/*
 * Main loop, BQL held, vCPUs paused: a legacy reset handler, called by
 * every system reset (qemu_system_reset()) after the CPUs were reset.
 */
static void reset_handler(void *opaque)
{
    DsmvmNode *n = opaque;
    bool from_peer = n->reset.ack_pending != 0;

    if (!n->dsm || (!from_peer && !n->reset.started)) {
        return;     /* the machine's first reset, before the guest ran */
    }
    trace_dsmvm_reset(from_peer, n->reset.ack_pending);
    dsmvm_hypercall_reset(n);
    n->reset.post_acks |= n->reset.ack_pending;
    n->reset.ack_pending = 0;
    n->reset.post_initiate |= !from_peer;
    /*
     * Queued before the vCPUs resume, so that the BSP does not execute an
     * instruction before it is released.
     */
    if (dsmvm_is_device_node(n) &&
        (n->reset.post_initiate || n->reset.waiting)) {
        async_run_on_cpu(qemu_get_cpu(0), reset_hold_bsp, RUN_ON_CPU_NULL);
    }
    qemu_bh_schedule(n->reset.post_bh);
}

static void reset_timeout(void *opaque)
{
    DsmvmNode *n = opaque;

    dsmvm_fatal(n, "the guest reset (round %u) did not finish within %d ms "
                "on every node (waiting for nodes 0x%" PRIx64 ")",
                n->reset.round, DSMVM_RESET_TIMEOUT_MS, n->reset.waiting);
}

/* Main loop: a peer's RESET or RESET_DONE. */
static void reset_receive(DsmvmNode *n, int src, const void *msg)
{
    const DsmvmMsgReset *m = msg;
    unsigned type = m->h.type;

    trace_dsmvm_reset_received(src, type, m->round);
    if (type == DSMVM_MSG_RESET) {
        if (!n->reset.ack_pending) {
            info_report("dsmvm node%u: node%d reset the guest; resetting "
                        "here too", n->node_id, src);
        }
        n->reset.ack_pending |= 1ULL << src;
        n->reset.ack_round[src] = m->round;
        qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET);
        return;
    }
    if (m->round > n->reset.round) {
        dsmvm_fatal(n, "node%d finished reset round %u, which this node "
                    "never started", src, m->round);
    }
    if (m->round < n->reset.round) {
        return;     /* a round that a newer reset of this node replaced */
    }
    if (!(n->reset.waiting & (1ULL << src)) ||
        (n->reset.device_node_later && src == n->cluster->device_node)) {
        dsmvm_fatal(n, "node%d finished reset round %u twice, or before it "
                    "was asked to", src, m->round);
    }
    n->reset.waiting &= ~(1ULL << src);
    reset_round_advance(n);
}

void dsmvm_reset_started(DsmvmNode *n)
{
    n->reset.started = true;
}

void dsmvm_reset_install(DsmvmNode *n)
{
    assert(n->cluster->num_nodes <= 64);
    n->reset.ack_round = g_new0(uint32_t, n->cluster->num_nodes);
    n->reset.timer = timer_new_ms(QEMU_CLOCK_REALTIME, reset_timeout, n);
    /* Not a device's BH either: see the inbox's in dispatch.c. */
    n->reset.post_bh = qemu_bh_new_guarded(reset_post_bh, n, NULL);
    qemu_register_reset(reset_handler, n);
    dsmvm_register_handler(n, DSMVM_MSG_RESET, DSMVM_CTX_MAIN_LOOP,
                           sizeof(DsmvmMsgReset), reset_receive);
    dsmvm_register_handler(n, DSMVM_MSG_RESET_DONE, DSMVM_CTX_MAIN_LOOP,
                           sizeof(DsmvmMsgReset), reset_receive);
}
