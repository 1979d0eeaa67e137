/*
 * dsmvm: messages between the QEMU processes of one guest. They travel on
 * host/dsm's application channel (authenticated, ordered per pair of nodes).
 * Every message is a fixed-size struct; dsmvm_msg_check() validates one
 * before any field is used.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_DSMVM_WIRE_H
#define HW_DSMVM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define DSMVM_WIRE_MAGIC 0x44534d56u /* "DSMV" */

enum DsmvmMsgType {
    DSMVM_MSG_HELLO = 1,      /* configuration fingerprint, to every peer */
    DSMVM_MSG_APIC,           /* an interrupt for a vCPU of the receiver */
    DSMVM_MSG_APIC_IDENTITY,  /* APIC ID / logical destination changed */
    DSMVM_MSG_EOI,            /* level-triggered EOI, to the device node */
    DSMVM_MSG_IO_REQ,         /* port or MMIO access, to the device node */
    DSMVM_MSG_IO_REPLY,
    DSMVM_MSG_TIME_REQ,       /* clock sample request, to the device node */
    DSMVM_MSG_TIME_REPLY,
    DSMVM_MSG_SHUTDOWN,       /* the guest powered off: every node stops */
    DSMVM_MSG_WU_REGISTER,    /* a write-update area, to every peer */
    DSMVM_MSG_WU_REGISTER_ACK,
    DSMVM_MSG_RESET,          /* the sender's guest reset: reset here too */
    DSMVM_MSG_RESET_DONE,     /* this node finished the reset of a RESET */
    DSMVM_MSG_TYPE_MAX,
};

typedef struct DsmvmMsgHeader {
    uint32_t magic;
    uint32_t type;
} DsmvmMsgHeader;

#define DSMVM_FINGERPRINT_LEN 256

typedef struct DsmvmMsgHello {
    DsmvmMsgHeader h;
    /* "key=value;key=value" of everything that must agree between nodes */
    char fingerprint[DSMVM_FINGERPRINT_LEN];
} DsmvmMsgHello;

typedef struct DsmvmMsgApic {
    DsmvmMsgHeader h;
    uint32_t apic_index;
    uint32_t delivery_mode;
    uint8_t vector;
    uint8_t trigger_mode;
    uint8_t pad[6];
} DsmvmMsgApic;

typedef struct DsmvmMsgApicIdentity {
    DsmvmMsgHeader h;
    uint32_t apic_index;
    uint8_t id;
    uint8_t log_dest;
    uint8_t dest_mode;
    uint8_t pad;
} DsmvmMsgApicIdentity;

typedef struct DsmvmMsgEoi {
    DsmvmMsgHeader h;
    uint32_t vector;
    uint32_t pad;
} DsmvmMsgEoi;

enum { DSMVM_SPACE_MEMORY = 0, DSMVM_SPACE_IO = 1 };

typedef struct DsmvmMsgIoReq {
    DsmvmMsgHeader h;
    uint64_t seq;
    uint64_t addr;
    uint64_t data;
    uint32_t space;
    uint32_t size;      /* 1, 2, 4 or 8 */
    uint32_t is_write;
    uint32_t pad;
} DsmvmMsgIoReq;

typedef struct DsmvmMsgIoReply {
    DsmvmMsgHeader h;
    uint64_t seq;
    uint64_t data;
    uint32_t result;    /* MemTxResult */
    uint32_t pad;
} DsmvmMsgIoReply;

typedef struct DsmvmMsgTime {
    DsmvmMsgHeader h;
    uint64_t seq;
    int64_t clock_ns;   /* QEMU_CLOCK_VIRTUAL of the device node (reply only) */
    int64_t ticks;      /* guest TSC of the device node (reply only) */
} DsmvmMsgTime;

typedef struct DsmvmMsgShutdown {
    DsmvmMsgHeader h;
    uint32_t cause;
    uint32_t pad;
} DsmvmMsgShutdown;

typedef struct DsmvmMsgWuRegister {
    DsmvmMsgHeader h;
    uint64_t seq;
    uint64_t gpa;
    uint64_t len;
} DsmvmMsgWuRegister;

typedef struct DsmvmMsgWuRegisterAck {
    DsmvmMsgHeader h;
    uint64_t seq;
    int64_t result;     /* 0 or a negative hypercall error */
} DsmvmMsgWuRegisterAck;

/*
 * RESET: the sender reset its part of the guest (a guest reset, a triple
 * fault or QMP system_reset) and asks the receiver to reset its own; the
 * receiver answers RESET_DONE with the same round once it has. A round
 * numbers the sender's resets: an answer to an older round is stale.
 */
typedef struct DsmvmMsgReset {
    DsmvmMsgHeader h;
    uint32_t round;     /* never 0 */
    uint32_t pad;       /* 0 */
} DsmvmMsgReset;

/*
 * Returns the message type if buf holds a well-formed message of the right
 * size for its type, or 0 with a reason in *why.
 */
unsigned dsmvm_msg_check(const void *buf, size_t len, const char **why);

#endif
