/*
 * dsmvm: the guest's hypercall doorbell (hypercalls/ABI.md).
 *
 * A 4-byte OUT to the doorbell port is a call: eax is the call number, rbx,
 * rcx and rsi the arguments, rax the result. The port is local on every
 * node: a call acts for the vCPU that made it. Write-update areas are pages
 * that every node keeps Shared and that change only through WU_WRITE64 or
 * WU_PUBLISH, which write into every node's copy before returning.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "hw/core/cpu.h"
#include "system/hw_accel.h"
#include "exec/address-spaces.h"
#include "cpu.h"
#include "dsm.h"
#include "internal.h"
#include "trace.h"
#include "../../dsmvm-hypercalls/dsmvm-hypercall.h"

#define DSMVM_WU_TIMEOUT_MS 5000

/* Records the area and marks its pages write-update in this node's DSM. */
static int64_t wu_register_local(DsmvmNode *n, uint64_t gpa, uint64_t len)
{
    DsmvmHypercalls *hc = &n->hc;
    void *host;

    if ((gpa | len) & (DSMVM_WU_PAGE_SIZE - 1) || len == 0 || gpa + len < gpa) {
        return -DSMVM_HC_EINVAL;
    }
    host = dsmvm_gpa_to_host(gpa, len);
    if (!host) {
        return -DSMVM_HC_EFAULT;
    }
    for (int i = 0; i < hc->wu_count; i++) {
        /*
         * The same area again: a registration that crossed a guest reset
         * (the old kernel's, arriving after this node forgot its areas)
         * must not make the new kernel's fail.
         */
        if (gpa == hc->wu_areas[i].gpa && len == hc->wu_areas[i].len) {
            return 0;
        }
        if (gpa < hc->wu_areas[i].gpa + hc->wu_areas[i].len &&
            hc->wu_areas[i].gpa < gpa + len) {
            return -DSMVM_HC_EEXIST;
        }
    }
    if (hc->wu_count == DSMVM_WU_MAX_AREAS) {
        return -DSMVM_HC_ENOSPC;
    }
    if (dsm_set_policy(n->dsm, host, len, DSM_POLICY_WRITE_UPDATE) < 0) {
        return -DSMVM_HC_EINVAL;
    }
    hc->wu_areas[hc->wu_count++] = (DsmvmWuArea){ gpa, len };
    return 0;
}

static int64_t hc_wu_register(DsmvmNode *n, uint64_t gpa, uint64_t len)
{
    int64_t r = wu_register_local(n, gpa, len);

    if (r < 0) {
        return r;
    }
    /* Every node marks the pages before the guest may use the area. */
    for (int i = 0; i < n->cluster->num_nodes; i++) {
        DsmvmMsgWuRegister req = {
            .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_WU_REGISTER },
            .gpa = gpa,
            .len = len,
        };
        DsmvmMsgWuRegisterAck ack;

        if (i == (int)n->node_id) {
            continue;
        }
        dsmvm_request(n, i, &req, sizeof(req), &req.seq, &ack, sizeof(ack),
                      DSMVM_WU_TIMEOUT_MS, "a write-update registration");
        if (ack.result < 0) {
            dsmvm_fatal(n, "node%d refused write-update area "
                        "0x%" PRIx64 "+0x%" PRIx64 " (error %" PRId64 ") "
                        "that this node accepted", i, gpa, len, ack.result);
        }
    }
    trace_dsmvm_wu_register(gpa, len);
    return 0;
}

static bool wu_area_contains(DsmvmNode *n, uint64_t gpa, uint64_t len)
{
    DsmvmHypercalls *hc = &n->hc;

    for (int i = 0; i < hc->wu_count; i++) {
        if (gpa >= hc->wu_areas[i].gpa &&
            gpa + len <= hc->wu_areas[i].gpa + hc->wu_areas[i].len) {
            return true;
        }
    }
    return false;
}

/* Writes data at gpa (in one page of an area) on every node, this one too. */
static void wu_write(DsmvmNode *n, uint64_t gpa, const void *data, uint64_t len)
{
    void *host = dsmvm_gpa_to_host(gpa, len);
    bool had_bql = bql_locked();
    int r;

    /*
     * Other nodes apply it without our BQL; do not hold up this node
     * meanwhile.
     */
    if (had_bql) {
        bql_unlock();
    }
    r = dsm_write_update(n->dsm, host, data, len);
    if (had_bql) {
        bql_lock();
    }
    if (r < 0) {
        uint64_t failed = dsm_failed_nodes(n->dsm);

        if (failed) {
            dsmvm_fatal(n, "node%d failed: a write-update of 0x%" PRIx64
                        " could not reach it", ctz64(failed), gpa);
        }
        dsmvm_fatal(n, "write-update of 0x%" PRIx64 " did not reach every "
                    "node: %s", gpa, strerror(-r));
    }
}

static int64_t hc_wu_write64(DsmvmNode *n, uint64_t gpa, uint64_t value)
{
    if (gpa & 7) {
        return -DSMVM_HC_EINVAL;
    }
    if (!wu_area_contains(n, gpa, 8)) {
        return -DSMVM_HC_EINVAL;
    }
    wu_write(n, gpa, &value, sizeof(value));
    return 0;
}

/*
 * Copies len bytes of guest RAM at src (as this node sees it) into every
 * node's copy of dst. dst..dst+len stays within one page, which the DSM
 * replaces as a whole on each node: readers see all of the bytes or none.
 */
static int64_t hc_wu_publish(DsmvmNode *n, uint64_t dst, uint64_t src,
                             uint64_t len)
{
    uint8_t buf[DSMVM_WU_PAGE_SIZE];
    const void *from;

    if (len == 0 || len > DSMVM_WU_PAGE_SIZE ||
        (dst & (DSMVM_WU_PAGE_SIZE - 1)) + len > DSMVM_WU_PAGE_SIZE ||
        src + len < src) {
        return -DSMVM_HC_EINVAL;
    }
    if (!wu_area_contains(n, dst, len)) {
        return -DSMVM_HC_EPERM;
    }
    from = dsmvm_gpa_to_host(src, len);
    if (!from) {
        return -DSMVM_HC_EFAULT;
    }
    /* A snapshot: the guest may change src again once the call returns. */
    memcpy(buf, from, len);
    wu_write(n, dst, buf, len);
    return 0;
}

static int64_t dsmvm_hypercall(DsmvmNode *n, uint32_t nr, uint64_t a0,
                               uint64_t a1, uint64_t a2)
{
    switch (nr) {
    case DSMVM_HC_FEATURES:
        return n->guest_features;
    case DSMVM_HC_WU_REGISTER:
    case DSMVM_HC_WU_WRITE64:
        if (!(n->guest_features & DSMVM_FEATURE_WRITE_UPDATE)) {
            return -DSMVM_HC_EOPNOTSUPP;
        }
        return nr == DSMVM_HC_WU_REGISTER ? hc_wu_register(n, a0, a1)
                                          : hc_wu_write64(n, a0, a1);
    case DSMVM_HC_WU_PUBLISH:
        if (!(n->guest_features & DSMVM_FEATURE_WU_PUBLISH)) {
            return -DSMVM_HC_EOPNOTSUPP;
        }
        return hc_wu_publish(n, a0, a1, a2);
    default:
        return -DSMVM_HC_ENOSYS;
    }
}

static uint64_t doorbell_read(void *opaque, hwaddr addr, unsigned size)
{
    return 0xffffffffu;
}

static void doorbell_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    DsmvmNode *n = opaque;
    CPUState *cs = current_cpu;
    CPUX86State *env;
    int64_t ret;

    if (!cs || addr != 0 || size != 4) {
        return;     /* only a 4-byte OUT from a vCPU is a call */
    }
    env = &X86_CPU(cs)->env;
    cpu_synchronize_state(cs);
    ret = dsmvm_hypercall(n, val, env->regs[R_EBX], env->regs[R_ECX],
                          env->regs[R_ESI]);
    trace_dsmvm_hypercall(cs->cpu_index, (uint32_t)val, env->regs[R_EBX],
                          env->regs[R_ECX], ret);
    env->regs[R_EAX] = ret;
}

static const MemoryRegionOps doorbell_ops = {
    .read = doorbell_read,
    .write = doorbell_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

/*
 * Main loop, vCPUs paused, on every node at each guest reset: the new kernel
 * registers its areas again. The pages go back to plain write-invalidate
 * (the policy is a local hint; coherence never depends on it).
 */
void dsmvm_hypercall_reset(DsmvmNode *n)
{
    DsmvmHypercalls *hc = &n->hc;

    trace_dsmvm_wu_reset(hc->wu_count);
    for (int i = 0; i < hc->wu_count; i++) {
        void *host = dsmvm_gpa_to_host(hc->wu_areas[i].gpa,
                                       hc->wu_areas[i].len);

        if (!host || dsm_set_policy(n->dsm, host, hc->wu_areas[i].len,
                                    DSM_POLICY_WRITE_INVALIDATE) < 0) {
            dsmvm_fatal(n, "cannot clear write-update area 0x%" PRIx64,
                        hc->wu_areas[i].gpa);
        }
    }
    hc->wu_count = 0;
}

/* Main loop: a peer registers an area; mark it here too and answer. */
static void wu_register_receive(DsmvmNode *n, int src, const void *msg)
{
    const DsmvmMsgWuRegister *req = msg;
    DsmvmMsgWuRegisterAck ack = {
        .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_WU_REGISTER_ACK },
        .seq = req->seq,
        .result = wu_register_local(n, req->gpa, req->len),
    };

    dsmvm_send(n, src, &ack, sizeof(ack));
}

/* Receive thread: a peer's answer to hc_wu_register(). */
static void wu_register_ack(DsmvmNode *n, int src, const void *msg)
{
    if (!dsmvm_complete_request(n, ((const DsmvmMsgWuRegisterAck *)msg)->seq,
                                msg, sizeof(DsmvmMsgWuRegisterAck))) {
        dsmvm_fatal(n, "node%d answered a registration nobody made", src);
    }
}

void dsmvm_hypercall_install(DsmvmNode *n)
{
    dsmvm_register_handler(n, DSMVM_MSG_WU_REGISTER, DSMVM_CTX_MAIN_LOOP,
                           sizeof(DsmvmMsgWuRegister), wu_register_receive);
    dsmvm_register_handler(n, DSMVM_MSG_WU_REGISTER_ACK, DSMVM_CTX_RECEIVE,
                           sizeof(DsmvmMsgWuRegisterAck), wu_register_ack);
    if (!n->guest_features) {
        return;
    }
    memory_region_init_io(&n->hc.doorbell, OBJECT(n), &doorbell_ops, n,
                          "dsmvm-doorbell", 4);
    memory_region_add_subregion(get_system_io(), DSMVM_DOORBELL_PORT_DEFAULT,
                                &n->hc.doorbell);
}
