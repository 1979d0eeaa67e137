/* proto.h - wire format of DSM messages and their validation.
 *
 * Every frame is a fixed 32-byte header followed by payload_len bytes.
 * Control messages carry no payload; only page transfers (4 KiB),
 * write-update data and application messages do.  Integers are in host
 * (little-endian x86) order: all nodes of a cluster run on the same ISA.
 */
#ifndef DSM_PROTO_H
#define DSM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "dsm.h"
#include "home.h"

#define DSM_MSG_MAGIC 0x4d53u   /* "SM" */

enum dsm_msg_type {
    DSM_MSG_READ_REQ = 1,   /* requester -> manager: wants a Shared copy */
    DSM_MSG_WRITE_REQ,      /* requester -> manager: wants ownership (Modified) */
    DSM_MSG_FWD_READ,       /* manager -> owner: send a Shared copy to arg (node) */
    DSM_MSG_FWD_WRITE,      /* manager -> owner: give the page to arg, drop yours */
    DSM_MSG_PAGE,           /* -> requester: grant, with 4 KiB or no payload */
    DSM_MSG_DONE,           /* requester -> manager: grant installed */
    DSM_MSG_INV,            /* manager -> copy holder: drop your Shared copy */
    DSM_MSG_INV_ACK,        /* copy holder -> manager */
    DSM_MSG_WU_REQ,         /* node -> manager: write payload at offset arg */
    DSM_MSG_FETCH,          /* manager -> owner: send me the content (keep Shared) */
    DSM_MSG_FETCH_REPLY,    /* owner -> manager, 4 KiB */
    DSM_MSG_WU_PAGE,        /* manager -> every node: replace your copy, 4 KiB */
    DSM_MSG_WU_ACK,         /* node -> manager */
    DSM_MSG_WU_DONE,        /* manager -> WU requester */
    DSM_MSG_APP,            /* application message, payload <= DSM_APP_MSG_MAX */
    DSM_MSG_BARRIER,        /* node -> node 0, arg = epoch */
    DSM_MSG_BARRIER_GO,     /* node 0 -> node, arg = epoch */
    DSM_MSG_BYE,            /* orderly leave */
    DSM_MSG_PING,           /* transport round-trip probe (bench) */
    DSM_MSG_PONG,
    DSM_MSG_TYPE_MAX
};

/* PAGE flags */
#define DSM_PF_SHARED  0x1u   /* install write-protected */
#define DSM_PF_EXCL    0x2u   /* install writable: requester becomes owner */
#define DSM_PF_ZERO    0x4u   /* never written anywhere: install zeroes */
#define DSM_PF_NODATA  0x8u   /* requester already has the content: unprotect */
#define DSM_PF_REMOTE  0x10u  /* resolution involved another node (statistics) */
#define DSM_PF_AHEAD   0x20u  /* read-ahead: shared copy nobody asked for, from the manager */
#define DSM_PF_MASK    0x3fu

struct dsm_msg_hdr {
    uint16_t magic;
    uint8_t type;
    uint8_t src;            /* sending node */
    uint32_t payload_len;
    uint32_t flags;
    uint32_t reserved;      /* must be zero */
    uint64_t page;          /* global page index (when relevant) */
    uint64_t arg;           /* node id, offset or epoch, by type */
};

_Static_assert(sizeof(struct dsm_msg_hdr) == 32, "wire header is 32 bytes");

/* What a receiver knows about the cluster, to validate against. */
struct dsm_proto_limits {
    int self;
    int num_nodes;
    uint64_t total_pages;
    const struct dsm_home_map *homes;   /* NULL: every page interleaved (p % n) */
};

const char *dsm_msg_type_name(unsigned type);

void dsm_msg_init(struct dsm_msg_hdr *h, unsigned type, int src, uint64_t page,
                  uint64_t arg, uint32_t flags, uint32_t payload_len);

/* Checks the fixed header alone (before reading the payload): magic, type,
 * payload size for the type.  Returns 0 or -1 with a reason in err. */
int dsm_msg_check_header(const struct dsm_msg_hdr *h, char *err, size_t errlen);

/* Full structural check of a frame received from node `peer`:
 * header, source, page index, node ids, flags.  0 or -1 with reason. */
int dsm_msg_validate(const struct dsm_msg_hdr *h, int peer,
                     const struct dsm_proto_limits *lim, char *err, size_t errlen);

/* Splits a byte stream into frames.  Returns the length of the first
 * complete frame at buf (header+payload), 0 if more bytes are needed, or
 * -1 if the header is invalid (err set). */
long dsm_frame_length(const void *buf, size_t len, char *err, size_t errlen);

#endif
