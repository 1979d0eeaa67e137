/* fuzz-state.c - libFuzzer target for the protocol state machine.
 *
 * One real DSM instance per input (userfaultfd-registered memory, no
 * threads, a fake transport that checks and discards what is sent).  The
 * input is a script: local faults of this node and frames "received" from
 * peers, each passed through the same validate-then-dispatch entry point
 * as real traffic.  A rejected frame ends the script, as the connection
 * would be closed.  Crashes, sanitizer reports, or a frame the node sends
 * that its peers would reject are bugs.
 *
 * Input: byte 0 = node count (2..4), byte 1 = this node; then commands:
 *   'F' page is_write        local fault
 *   other byte + 32-byte header (+ payload, zero-padded) = received frame
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dsm_internal.h"

#define FUZZ_PAGES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dsm_proto_limits peer_lim;

static int fake_start(struct dsm_transport *t, char *err, size_t errlen)
{
    (void)t; (void)err; (void)errlen;
    return 0;
}

static int fake_send(struct dsm_transport *t, int dst, const struct dsm_msg_hdr *h,
                     const void *payload)
{
    (void)t;
    /* whatever this node sends must pass its receiver's validation */
    char err[256];
    struct dsm_proto_limits lim = peer_lim;
    lim.self = dst;
    if (dsm_msg_validate(h, h->src, &lim, err, sizeof(err)) < 0) {
        fprintf(stderr, "node sent an invalid %s to %d: %s\n", dsm_msg_type_name(h->type), dst,
                err);
        abort();
    }
    volatile uint8_t sink = 0;
    const uint8_t *p = payload;
    for (uint32_t i = 0; i < h->payload_len; i++) {
        sink ^= p[i];   /* the payload must be readable in full */
    }
    (void)sink;
    return 0;
}

static void fake_stop(struct dsm_transport *t)
{
    (void)t;
}

static void fake_destroy(struct dsm_transport *t)
{
    free(t);
}

static const struct dsm_transport_ops fake_ops = {
    "fake", fake_start, fake_send, fake_stop, fake_destroy,
};

static void quiet(void *o, enum dsm_log_level l, const char *m)
{
    (void)o; (void)l; (void)m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *mem;
    static uint8_t payload[DSM_APP_MSG_MAX];
    if (size < 2) {
        return 0;
    }
    if (!mem) {
        mem = mmap(NULL, FUZZ_PAGES * DSM_PAGE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    int n = 2 + data[0] % 3, self = data[1] % n;
    data += 2;
    size -= 2;

    struct dsm_config cfg;
    char err[256];
    dsm_config_init(&cfg);
    cfg.node_id = self;
    cfg.num_nodes = n;
    cfg.transport = DSM_TRANSPORT_SHM;
    cfg.shm_name = "unused";
    cfg.read_ahead_pages = 3;    /* reach the read-ahead paths too */
    struct dsm_callbacks cb = { .log = quiet };
    struct dsm *d = dsm_create(&cfg, &cb, err, sizeof(err));
    if (!d) {
        return 0;
    }
    if (dsm_add_region(d, mem, FUZZ_PAGES * DSM_PAGE_SIZE) < 0 || dsm_prepare(d, err, sizeof(err)) < 0) {
        dsm_destroy(d);
        return 0;
    }
    struct dsm_transport *tr = calloc(1, sizeof(*tr));
    tr->ops = &fake_ops;
    d->tr = tr;
    peer_lim.num_nodes = n;
    peer_lim.total_pages = FUZZ_PAGES;

    size_t off = 0;
    while (off < size) {
        uint8_t cmd = data[off++];
        if (cmd == 'F') {
            if (off + 2 > size) {
                break;
            }
            uintptr_t addr = (uintptr_t)(mem + (data[off] % FUZZ_PAGES) * DSM_PAGE_SIZE);
            int is_write = data[off + 1] & 1;
            off += 2;
            pthread_mutex_lock(&d->lock);
            dsm_handle_fault(d, addr, is_write, 0);
            dsm_drain_local(d);
            pthread_mutex_unlock(&d->lock);
            continue;
        }
        struct dsm_msg_hdr h;
        if (off + sizeof(h) > size) {
            break;
        }
        memcpy(&h, data + off, sizeof(h));
        off += sizeof(h);
        size_t plen = h.payload_len <= sizeof(payload) ? h.payload_len : 0;
        size_t avail = size - off < plen ? size - off : plen;
        memset(payload, 0, plen);
        memcpy(payload, data + off, avail);
        off += avail;
        int src = h.src < n ? h.src : (self + 1) % n;
        if (src == self) {
            src = (self + 1) % n;
        }
        if (dsm_deliver(d, src, &h, payload, err, sizeof(err)) < 0) {
            if (getenv("FUZZ_STATE_VERBOSE")) {
                fprintf(stderr, "frame from %d rejected: %s\n", src, err);
            }
            break;   /* the connection would be closed here */
        }
        if (getenv("FUZZ_STATE_VERBOSE")) {
            fprintf(stderr, "frame %s from %d accepted\n", dsm_msg_type_name(h.type), src);
        }
    }
    dsm_destroy(d);
    return 0;
}
