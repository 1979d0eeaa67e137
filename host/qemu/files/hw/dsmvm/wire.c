/*
 * dsmvm: validation of messages from other nodes.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "wire.h"

static const size_t dsmvm_msg_size[DSMVM_MSG_TYPE_MAX] = {
    [DSMVM_MSG_HELLO] = sizeof(DsmvmMsgHello),
    [DSMVM_MSG_APIC] = sizeof(DsmvmMsgApic),
    [DSMVM_MSG_APIC_IDENTITY] = sizeof(DsmvmMsgApicIdentity),
    [DSMVM_MSG_EOI] = sizeof(DsmvmMsgEoi),
    [DSMVM_MSG_IO_REQ] = sizeof(DsmvmMsgIoReq),
    [DSMVM_MSG_IO_REPLY] = sizeof(DsmvmMsgIoReply),
    [DSMVM_MSG_TIME_REQ] = sizeof(DsmvmMsgTime),
    [DSMVM_MSG_TIME_REPLY] = sizeof(DsmvmMsgTime),
    [DSMVM_MSG_SHUTDOWN] = sizeof(DsmvmMsgShutdown),
    [DSMVM_MSG_WU_REGISTER] = sizeof(DsmvmMsgWuRegister),
    [DSMVM_MSG_WU_REGISTER_ACK] = sizeof(DsmvmMsgWuRegisterAck),
    [DSMVM_MSG_RESET] = sizeof(DsmvmMsgReset),
    [DSMVM_MSG_RESET_DONE] = sizeof(DsmvmMsgReset),
};

unsigned dsmvm_msg_check(const void *buf, size_t len, const char **why)
{
    DsmvmMsgHeader h;

    if (len < sizeof(h)) {
        *why = "message shorter than its header";
        return 0;
    }
    memcpy(&h, buf, sizeof(h));
    if (h.magic != DSMVM_WIRE_MAGIC) {
        *why = "bad magic";
        return 0;
    }
    if (h.type == 0 || h.type >= DSMVM_MSG_TYPE_MAX) {
        *why = "unknown message type";
        return 0;
    }
    if (len != dsmvm_msg_size[h.type]) {
        *why = "wrong size for its type";
        return 0;
    }
    if (h.type == DSMVM_MSG_IO_REQ) {
        const DsmvmMsgIoReq *r = buf;

        if (r->space > DSMVM_SPACE_IO || !(r->size == 1 || r->size == 2 ||
            r->size == 4 || r->size == 8) || r->is_write > 1 ||
            (r->space == DSMVM_SPACE_IO && (r->addr > 0xffff || r->size > 4))) {
            *why = "I/O request with a bad space, size or address";
            return 0;
        }
    }
    if (h.type == DSMVM_MSG_HELLO) {
        const DsmvmMsgHello *m = buf;

        if (!memchr(m->fingerprint, 0, sizeof(m->fingerprint))) {
            *why = "fingerprint not terminated";
            return 0;
        }
    }
    if (h.type == DSMVM_MSG_RESET || h.type == DSMVM_MSG_RESET_DONE) {
        const DsmvmMsgReset *m = buf;

        if (m->round == 0 || m->pad != 0) {
            *why = "reset message with round 0 or a non-zero pad";
            return 0;
        }
    }
    return h.type;
}
