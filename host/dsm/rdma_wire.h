/* rdma_wire.h - the RDMA transport's framing and credit accounting.
 *
 * Pure functions (no verbs): they are unit-tested on machines without an
 * RDMA device.  Every RDMA SEND carries one frame: a 16-byte frame header
 * and up to RDMA_FRAME_DATA_MAX bytes.  A DSM message (32-byte header and
 * payload, proto.h) that fits travels whole in one frame (RDMA_FK_MSG, and
 * is delivered straight from the receive buffer); a longer one (only
 * application messages can be) is cut into RDMA_FK_FRAG frames ended by an
 * RDMA_FK_LAST frame and reassembled by the receiver.  Handshake bytes
 * travel in RDMA_FK_HS frames, before any message.
 *
 * Flow control: each end posts RDMA_RECV_DEPTH receive buffers per peer
 * before connecting, so a sender starts with that many credits.  Every
 * frame (any kind) uses one; the receiver counts each buffer it posts
 * again and returns those counts in the credits field of its next frame,
 * or in an RDMA_FK_CREDIT frame once RDMA_CREDIT_UPDATE_AT are owed.
 * Frames other than credit updates keep RDMA_CREDIT_RESERVE credits back,
 * so a credit update can always be sent: a burst never overruns the
 * peer's receive queue and two ends never wait for each other.
 */
#ifndef DSM_RDMA_WIRE_H
#define DSM_RDMA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define RDMA_FRAME_MAGIC     0x5244u   /* "DR" */
#define RDMA_RECV_DEPTH      64u       /* receive buffers per peer */
#define RDMA_SEND_DEPTH      64u       /* registered send buffers per peer */
#define RDMA_CREDIT_RESERVE  1u
#define RDMA_CREDIT_UPDATE_AT (RDMA_RECV_DEPTH / 4)
/* One buffer: frame header + a page message (header + 4 KiB), rounded. */
#define RDMA_SLOT_SIZE       4160u
/* Largest reassembled message: header + the largest payload (proto.c). */
#define RDMA_MSG_MAX         (sizeof(struct dsm_msg_hdr) + DSM_APP_MSG_MAX)

enum rdma_frame_kind {
    RDMA_FK_HS = 1,      /* handshake bytes (handshake.c), before any message */
    RDMA_FK_MSG,         /* one whole DSM message */
    RDMA_FK_FRAG,        /* part of a DSM message, more follow */
    RDMA_FK_LAST,        /* last part of a DSM message */
    RDMA_FK_CREDIT,      /* no data: returns credits only */
};

struct rdma_frame_hdr {
    uint16_t magic;
    uint8_t kind;
    uint8_t reserved0;   /* must be zero */
    uint16_t credits;    /* receive buffers the sender posted again for us */
    uint16_t reserved1;  /* must be zero */
    uint32_t len;        /* bytes of data after this header */
    uint32_t reserved2;  /* must be zero */
};

_Static_assert(sizeof(struct rdma_frame_hdr) == 16, "frame header is 16 bytes");

#define RDMA_FRAME_DATA_MAX  (RDMA_SLOT_SIZE - sizeof(struct rdma_frame_hdr))

_Static_assert(RDMA_FRAME_DATA_MAX >= sizeof(struct dsm_msg_hdr) + DSM_PAGE_SIZE,
               "a page message fits one frame");

/* Checks a received frame of byte_len bytes (as the completion reported)
 * and copies its header to *out.  Checks magic, kind, reserved fields,
 * len against byte_len, credits against RDMA_RECV_DEPTH, and for
 * RDMA_FK_MSG the DSM header and that the message fills the frame
 * exactly.  0, or -1 with a reason in err. */
int rdma_frame_parse(const void *buf, size_t byte_len, struct rdma_frame_hdr *out,
                     char *err, size_t errlen);

/* Number of frames a DSM message of msg_len bytes (header + payload) takes. */
unsigned rdma_frames_for(size_t msg_len);

/* Reassembly of one fragmented message (buf holds RDMA_MSG_MAX bytes). */
struct rdma_reasm {
    uint8_t *buf;
    size_t len;
};

/* Adds the data of a FRAG or LAST frame.  Returns 1 when a LAST frame
 * completed a valid message (buf[0..len) holds it; reset len to 0 after
 * delivering it), 0 if more parts are needed, -1 (err set) if the parts
 * overflow the largest message, the header is invalid, the message is
 * longer than its parts or ends before its header says, or a message that
 * fits one frame was fragmented. */
int rdma_reasm_add(struct rdma_reasm *r, int last, const void *data, size_t len,
                   char *err, size_t errlen);

/* Credit accounting of one connection (under the sender's lock). */
struct rdma_credits {
    unsigned avail;      /* frames we may still send */
    unsigned owed;       /* buffers we posted again and did not report yet */
};

void rdma_credits_init(struct rdma_credits *c);
/* May a frame that is not a credit update be sent now? */
int rdma_credits_can_send(const struct rdma_credits *c);
/* Should a credit-update frame be sent now? */
int rdma_credits_want_update(const struct rdma_credits *c);
/* A frame is sent: uses a credit; returns the count to put in its header. */
unsigned rdma_credits_on_send(struct rdma_credits *c);
/* A frame arrived carrying n credits: -1 if the peer returns more than it
 * could owe (a broken or hostile peer). */
int rdma_credits_on_grant(struct rdma_credits *c, unsigned n);
/* A receive buffer was posted again after its frame was handled. */
void rdma_credits_on_repost(struct rdma_credits *c);

#endif
