/*
 * dsmvm: guest-visible time agrees on every node.
 *
 * The device node's clocks are the reference. When the guest starts running
 * here, this node asks for the device node's virtual clock and TSC a few
 * times, keeps the sample with the shortest round trip, corrects it by half
 * that round trip and shifts its own clocks to match. Under TCG this covers
 * the TSC and the local APIC timer (both derive from these clocks); HPET and
 * PIT live on the device node.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "system/cpu-timers.h"
#include "system/kvm.h"
#include "internal.h"
#include "trace.h"

#define TIME_SAMPLES    8
#define TIME_TIMEOUT_MS 5000

/*
 * Device node, receive thread: a clock sample, taken without the BQL (the
 * clocks are read under their own locks).
 */
static void dsmvm_time_serve(DsmvmNode *n, int src, const void *msg)
{
    const DsmvmMsgTime *req = msg;
    DsmvmMsgTime reply = {
        .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_TIME_REPLY },
        .seq = req->seq,
        .clock_ns = cpu_get_clock(),
        .ticks = cpu_get_ticks(),
    };

    dsmvm_send(n, src, &reply, sizeof(reply));
}

/* Receive thread: the device node's answer to a clock sample request. */
static void dsmvm_time_reply(DsmvmNode *n, int src, const void *msg)
{
    if (!dsmvm_complete_request(n, ((const DsmvmMsgTime *)msg)->seq, msg,
                                sizeof(DsmvmMsgTime))) {
        dsmvm_fatal(n, "node%d answered a clock request nobody made", src);
    }
}

void dsmvm_time_install(DsmvmNode *n)
{
    if (dsmvm_is_device_node(n)) {
        dsmvm_register_handler(n, DSMVM_MSG_TIME_REQ, DSMVM_CTX_RECEIVE,
                               sizeof(DsmvmMsgTime), dsmvm_time_serve);
    } else {
        dsmvm_register_handler(n, DSMVM_MSG_TIME_REPLY, DSMVM_CTX_RECEIVE,
                               sizeof(DsmvmMsgTime), dsmvm_time_reply);
    }
}

void dsmvm_time_sync(DsmvmNode *n)
{
    int64_t best_rtt = INT64_MAX, best_clock_delta = 0, best_ticks_delta = 0;

    if (kvm_enabled()) {
        /*
         * KVM keeps the TSC in the kernel: see the README's note on KVM
         * time.
         */
        warn_report("dsmvm node%u: clock synchronisation under KVM covers "
                    "the virtual clock only", n->node_id);
    }
    for (int i = 0; i < TIME_SAMPLES; i++) {
        DsmvmMsgTime req = { .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_TIME_REQ } };
        DsmvmMsgTime reply;
        int64_t clock0 = cpu_get_clock(), ticks0 = cpu_get_ticks();
        int64_t clock1, ticks1, rtt;

        dsmvm_request(n, n->cluster->device_node, &req, sizeof(req), &req.seq,
                      &reply, sizeof(reply), TIME_TIMEOUT_MS, "a clock sample");
        clock1 = cpu_get_clock();
        ticks1 = cpu_get_ticks();
        rtt = clock1 - clock0;
        if (rtt < best_rtt) {
            best_rtt = rtt;
            /*
             * The device node's clock at clock1 is its sample plus half the
             * round trip.
             */
            best_clock_delta = reply.clock_ns + rtt / 2 - clock1;
            best_ticks_delta = reply.ticks + (ticks1 - ticks0) / 2 - ticks1;
        }
    }
    cpu_timers_shift(best_clock_delta, best_ticks_delta);
    trace_dsmvm_time_sync(best_rtt, best_clock_delta, best_ticks_delta);
    info_report("dsmvm node%u: clocks aligned with node%d (shifted by %" PRId64
                " ns and %" PRId64 " TSC ticks, round trip %" PRId64 " ns)",
                n->node_id, n->cluster->device_node,
                best_clock_delta, best_ticks_delta, best_rtt);
}
