/* rdma_wire.c - framing and credit accounting of the RDMA transport
 * (pure functions, see rdma_wire.h). */
#include "rdma_wire.h"

#include <stdio.h>
#include <string.h>

int rdma_frame_parse(const void *buf, size_t byte_len, struct rdma_frame_hdr *out,
                     char *err, size_t errlen)
{
    if (byte_len < sizeof(*out)) {
        snprintf(err, errlen, "frame of %zu bytes is shorter than its header", byte_len);
        return -1;
    }
    if (byte_len > RDMA_SLOT_SIZE) {
        snprintf(err, errlen, "frame of %zu bytes is larger than a buffer", byte_len);
        return -1;
    }
    memcpy(out, buf, sizeof(*out));
    if (out->magic != RDMA_FRAME_MAGIC) {
        snprintf(err, errlen, "bad frame magic 0x%04x", out->magic);
        return -1;
    }
    if (out->reserved0 || out->reserved1 || out->reserved2) {
        snprintf(err, errlen, "reserved frame header fields are not zero");
        return -1;
    }
    if (out->len != byte_len - sizeof(*out)) {
        snprintf(err, errlen, "frame says %u data bytes, %zu arrived", out->len,
                 byte_len - sizeof(*out));
        return -1;
    }
    if (out->credits > RDMA_RECV_DEPTH) {
        snprintf(err, errlen, "frame returns %u credits (at most %u)", out->credits,
                 RDMA_RECV_DEPTH);
        return -1;
    }
    switch (out->kind) {
    case RDMA_FK_HS:
    case RDMA_FK_FRAG:
    case RDMA_FK_LAST:
        if (out->len == 0) {
            snprintf(err, errlen, "empty frame of kind %u", out->kind);
            return -1;
        }
        return 0;
    case RDMA_FK_CREDIT:
        if (out->len != 0) {
            snprintf(err, errlen, "credit frame carries %u data bytes", out->len);
            return -1;
        }
        return 0;
    case RDMA_FK_MSG: {
        char why[200];
        long flen = dsm_frame_length((const uint8_t *)buf + sizeof(*out), out->len, why,
                                     sizeof(why));
        if (flen < 0) {
            snprintf(err, errlen, "%s", why);
            return -1;
        }
        if (flen == 0 || (size_t)flen != out->len) {
            snprintf(err, errlen, "message frame of %u bytes holds a message of %s", out->len,
                     flen ? "another length" : "more bytes");
            return -1;
        }
        return 0;
    }
    default:
        snprintf(err, errlen, "unknown frame kind %u", out->kind);
        return -1;
    }
}

unsigned rdma_frames_for(size_t msg_len)
{
    if (msg_len <= RDMA_FRAME_DATA_MAX) {
        return 1;
    }
    return (unsigned)((msg_len + RDMA_FRAME_DATA_MAX - 1) / RDMA_FRAME_DATA_MAX);
}

int rdma_reasm_add(struct rdma_reasm *r, int last, const void *data, size_t len,
                   char *err, size_t errlen)
{
    if (len > RDMA_MSG_MAX - r->len) {
        snprintf(err, errlen, "fragmented message longer than %zu bytes", RDMA_MSG_MAX);
        return -1;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    char why[200];
    long flen = dsm_frame_length(r->buf, r->len, why, sizeof(why));
    if (flen < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (flen > 0 && (size_t)flen < r->len) {
        snprintf(err, errlen, "fragments hold %zu bytes, the message %ld", r->len, flen);
        return -1;
    }
    if (!last) {
        return 0;
    }
    if (flen == 0) {
        snprintf(err, errlen, "last fragment ends a message before its end (%zu bytes)",
                 r->len);
        return -1;
    }
    if ((size_t)flen <= RDMA_FRAME_DATA_MAX) {
        snprintf(err, errlen, "message of %ld bytes fragmented (fits one frame)", flen);
        return -1;
    }
    return 1;
}

void rdma_credits_init(struct rdma_credits *c)
{
    c->avail = RDMA_RECV_DEPTH;
    c->owed = 0;
}

int rdma_credits_can_send(const struct rdma_credits *c)
{
    return c->avail > RDMA_CREDIT_RESERVE;
}

int rdma_credits_want_update(const struct rdma_credits *c)
{
    return c->avail > 0 && c->owed >= RDMA_CREDIT_UPDATE_AT;
}

unsigned rdma_credits_on_send(struct rdma_credits *c)
{
    unsigned n = c->owed;
    c->avail--;
    c->owed = 0;
    return n;
}

int rdma_credits_on_grant(struct rdma_credits *c, unsigned n)
{
    if (n > RDMA_RECV_DEPTH - c->avail) {
        return -1;
    }
    c->avail += n;
    return 0;
}

void rdma_credits_on_repost(struct rdma_credits *c)
{
    c->owed++;
}
