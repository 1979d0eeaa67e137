/*
 * fuzz-wire.c - libFuzzer target for the QEMU-level message decoder,
 * hw/dsmvm/wire.c (dsmvm_msg_check), built outside QEMU with shim/.
 *
 * Every message a node accepts must be safe for its handlers to read: the
 * target checks, for each accepted input, the properties they rely on
 * (size matches the type, I/O requests in range, hello terminated) and
 * that a refusal always says why.  Input: one message, as a peer's
 * application payload.
 *
 * Built with -DFUZZ_WIRE_SEEDS instead, it is a program that writes one
 * valid message of every type into the directory given (the seed corpus)
 * and checks that each is accepted and a corrupted copy refused.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static const size_t msg_size[DSMVM_MSG_TYPE_MAX] = {
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

#define MUST(cond)                                                  \
    do {                                                            \
        if (!(cond)) {                                              \
            fprintf(stderr, "fuzz-wire: %s:%d: %s\n",               \
                    __FILE__, __LINE__, #cond);                     \
            abort();                                                \
        }                                                           \
    } while (0)

/* What the handlers may assume about a message dsmvm_msg_check() accepted. */
static void check_accepted(const uint8_t *buf, size_t len, unsigned type)
{
    DsmvmMsgHeader h;

    MUST(len >= sizeof(h));
    memcpy(&h, buf, sizeof(h));
    MUST(h.magic == DSMVM_WIRE_MAGIC);
    MUST(type == h.type && type > 0 && type < DSMVM_MSG_TYPE_MAX);
    MUST(len == msg_size[type]);
    if (type == DSMVM_MSG_IO_REQ) {
        DsmvmMsgIoReq r;

        memcpy(&r, buf, sizeof(r));
        MUST(r.space == DSMVM_SPACE_MEMORY || r.space == DSMVM_SPACE_IO);
        MUST(r.size == 1 || r.size == 2 || r.size == 4 || r.size == 8);
        MUST(r.is_write <= 1);
        MUST(r.space != DSMVM_SPACE_IO || (r.addr <= 0xffff && r.size <= 4));
    }
    if (type == DSMVM_MSG_HELLO) {
        DsmvmMsgHello m;

        memcpy(&m, buf, sizeof(m));
        MUST(strnlen(m.fingerprint, sizeof(m.fingerprint)) <
             sizeof(m.fingerprint));
    }
    if (type == DSMVM_MSG_RESET || type == DSMVM_MSG_RESET_DONE) {
        DsmvmMsgReset m;

        memcpy(&m, buf, sizeof(m));
        MUST(m.round != 0 && m.pad == 0);
    }
}

#ifndef FUZZ_WIRE_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy: ASan then catches any read past the message */
    uint8_t *buf = malloc(size ? size : 1);
    const char *why = NULL;

    memcpy(buf, data, size);
    unsigned type = dsmvm_msg_check(buf, size, &why);
    if (type) {
        check_accepted(buf, size, type);
    } else {
        MUST(why && *why);
    }
    free(buf);
    return 0;
}

#else

/* A valid message of the given type in buf; returns its length. */
static size_t valid_message(unsigned type, uint8_t *buf)
{
    DsmvmMsgHeader h = { DSMVM_WIRE_MAGIC, type };

    memset(buf, 0, 512);
    memcpy(buf, &h, sizeof(h));
    if (type == DSMVM_MSG_HELLO) {
        DsmvmMsgHello *m = (DsmvmMsgHello *)buf;
        snprintf(m->fingerprint, sizeof(m->fingerprint),
                 "machine=pc;smp=2;ram=536870912");
    } else if (type == DSMVM_MSG_IO_REQ) {
        DsmvmMsgIoReq *r = (DsmvmMsgIoReq *)buf;
        r->space = DSMVM_SPACE_IO;
        r->addr = 0x3f8;
        r->size = 1;
        r->is_write = 1;
        r->data = 'x';
    } else if (type == DSMVM_MSG_RESET || type == DSMVM_MSG_RESET_DONE) {
        ((DsmvmMsgReset *)buf)->round = 1;
    }
    return msg_size[type];
}

int main(int argc, char **argv)
{
    uint8_t buf[512];
    const char *why;
    int bad = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-wire-seeds DIR\n");
        return 2;
    }
    for (unsigned type = 1; type < DSMVM_MSG_TYPE_MAX; type++) {
        size_t len = valid_message(type, buf);
        char path[4096];
        FILE *f;

        if (dsmvm_msg_check(buf, len, &why) != type) {
            fprintf(stderr, "a valid message of type %u was refused\n", type);
            bad = 1;
        }
        check_accepted(buf, len, type);
        snprintf(path, sizeof(path), "%s/type-%02u", argv[1], type);
        f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            perror(path);
            return 1;
        }
        /* one byte short, and one more: both refused */
        if (dsmvm_msg_check(buf, len - 1, &why) ||
            dsmvm_msg_check(buf, len + 1, &why)) {
            fprintf(stderr,
                    "a message of type %u with the wrong size was accepted\n",
                    type);
            bad = 1;
        }
    }
    /* the range checks of an I/O request */
    size_t len = valid_message(DSMVM_MSG_IO_REQ, buf);
    ((DsmvmMsgIoReq *)buf)->addr = 0x10000;
    if (dsmvm_msg_check(buf, len, &why)) {
        fprintf(stderr, "a port beyond 0xffff was accepted\n");
        bad = 1;
    }
    len = valid_message(DSMVM_MSG_HELLO, buf);
    memset(((DsmvmMsgHello *)buf)->fingerprint, 'a', DSMVM_FINGERPRINT_LEN);
    if (dsmvm_msg_check(buf, len, &why)) {
        fprintf(stderr, "an unterminated fingerprint was accepted\n");
        bad = 1;
    }
    len = valid_message(DSMVM_MSG_RESET, buf);
    ((DsmvmMsgReset *)buf)->round = 0;
    if (dsmvm_msg_check(buf, len, &why)) {
        fprintf(stderr, "a reset of round 0 was accepted\n");
        bad = 1;
    }
    printf("%u seed messages written to %s%s\n", DSMVM_MSG_TYPE_MAX - 1,
           argv[1], bad ? "; the decoder FAILED its checks" : "");
    return bad;
}

#endif
