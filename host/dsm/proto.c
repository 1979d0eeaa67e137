/* proto.c - message construction and validation (pure, no I/O). */
#include "proto.h"

#include <stdio.h>
#include <string.h>

static const char *const type_names[DSM_MSG_TYPE_MAX] = {
    [DSM_MSG_READ_REQ] = "READ_REQ",     [DSM_MSG_WRITE_REQ] = "WRITE_REQ",
    [DSM_MSG_FWD_READ] = "FWD_READ",     [DSM_MSG_FWD_WRITE] = "FWD_WRITE",
    [DSM_MSG_PAGE] = "PAGE",             [DSM_MSG_DONE] = "DONE",
    [DSM_MSG_INV] = "INV",               [DSM_MSG_INV_ACK] = "INV_ACK",
    [DSM_MSG_WU_REQ] = "WU_REQ",         [DSM_MSG_FETCH] = "FETCH",
    [DSM_MSG_FETCH_REPLY] = "FETCH_REPLY", [DSM_MSG_WU_PAGE] = "WU_PAGE",
    [DSM_MSG_WU_ACK] = "WU_ACK",         [DSM_MSG_WU_DONE] = "WU_DONE",
    [DSM_MSG_APP] = "APP",               [DSM_MSG_BARRIER] = "BARRIER",
    [DSM_MSG_BARRIER_GO] = "BARRIER_GO", [DSM_MSG_BYE] = "BYE",
    [DSM_MSG_PING] = "PING",             [DSM_MSG_PONG] = "PONG",
};

const char *dsm_msg_type_name(unsigned type)
{
    if (type == 0 || type >= DSM_MSG_TYPE_MAX) {
        return "?";
    }
    return type_names[type];
}

void dsm_msg_init(struct dsm_msg_hdr *h, unsigned type, int src, uint64_t page,
                  uint64_t arg, uint32_t flags, uint32_t payload_len)
{
    memset(h, 0, sizeof(*h));
    h->magic = DSM_MSG_MAGIC;
    h->type = (uint8_t)type;
    h->src = (uint8_t)src;
    h->payload_len = payload_len;
    h->flags = flags;
    h->page = page;
    h->arg = arg;
}

int dsm_msg_check_header(const struct dsm_msg_hdr *h, char *err, size_t errlen)
{
    if (h->magic != DSM_MSG_MAGIC) {
        snprintf(err, errlen, "bad frame magic 0x%04x", h->magic);
        return -1;
    }
    if (h->type == 0 || h->type >= DSM_MSG_TYPE_MAX) {
        snprintf(err, errlen, "unknown message type %u", h->type);
        return -1;
    }
    if (h->reserved != 0) {
        snprintf(err, errlen, "%s: reserved field not zero", dsm_msg_type_name(h->type));
        return -1;
    }
    uint32_t len = h->payload_len;
    int ok;
    switch (h->type) {
    case DSM_MSG_PAGE:
        /* data only when the requester lacks it and it is not a zero page */
        ok = (h->flags & (DSM_PF_ZERO | DSM_PF_NODATA)) ? len == 0 : len == DSM_PAGE_SIZE;
        break;
    case DSM_MSG_FETCH_REPLY:
    case DSM_MSG_WU_PAGE:
        ok = len == DSM_PAGE_SIZE;
        break;
    case DSM_MSG_WU_REQ:
        ok = len >= 1 && len <= DSM_PAGE_SIZE;
        break;
    case DSM_MSG_APP:
        ok = len >= 1 && len <= DSM_APP_MSG_MAX;
        break;
    case DSM_MSG_PONG:
        ok = len <= DSM_PAGE_SIZE;
        break;
    default:
        ok = len == 0;
        break;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: invalid payload length %u", dsm_msg_type_name(h->type), len);
        return -1;
    }
    return 0;
}

int dsm_msg_validate(const struct dsm_msg_hdr *h, int peer,
                     const struct dsm_proto_limits *lim, char *err, size_t errlen)
{
    if (dsm_msg_check_header(h, err, errlen) < 0) {
        return -1;
    }
    const char *name = dsm_msg_type_name(h->type);
    if (h->src != peer || peer < 0 || peer >= lim->num_nodes) {
        snprintf(err, errlen, "%s: source node %u on the connection of node %d",
                 name, h->src, peer);
        return -1;
    }
    switch (h->type) {
    case DSM_MSG_READ_REQ: case DSM_MSG_WRITE_REQ: case DSM_MSG_FWD_READ:
    case DSM_MSG_FWD_WRITE: case DSM_MSG_PAGE: case DSM_MSG_DONE:
    case DSM_MSG_INV: case DSM_MSG_INV_ACK: case DSM_MSG_WU_REQ:
    case DSM_MSG_FETCH: case DSM_MSG_FETCH_REPLY: case DSM_MSG_WU_PAGE:
    case DSM_MSG_WU_ACK: case DSM_MSG_WU_DONE:
        if (h->page >= lim->total_pages) {
            snprintf(err, errlen, "%s: page index %llu outside the %llu registered pages",
                     name, (unsigned long long)h->page, (unsigned long long)lim->total_pages);
            return -1;
        }
        break;
    default:
        if (h->page != 0) {
            snprintf(err, errlen, "%s: unexpected page field", name);
            return -1;
        }
    }
    /* Requests must go to the page's manager. */
    switch (h->type) {
    case DSM_MSG_READ_REQ: case DSM_MSG_WRITE_REQ: case DSM_MSG_DONE:
    case DSM_MSG_INV_ACK: case DSM_MSG_WU_REQ: case DSM_MSG_FETCH_REPLY:
    case DSM_MSG_WU_ACK:
        if ((lim->homes ? dsm_home_of(lim->homes, h->page)
                        : (int)(h->page % (uint64_t)lim->num_nodes)) != lim->self) {
            snprintf(err, errlen, "%s: page %llu is not managed by node %d", name,
                     (unsigned long long)h->page, lim->self);
            return -1;
        }
        break;
    default:
        break;
    }
    switch (h->type) {
    case DSM_MSG_FWD_READ: case DSM_MSG_FWD_WRITE:
        if (h->arg >= (uint64_t)lim->num_nodes || (int)h->arg == lim->self) {
            snprintf(err, errlen, "%s: invalid requester node %llu", name,
                     (unsigned long long)h->arg);
            return -1;
        }
        if (h->flags & ~DSM_PF_NODATA) {
            snprintf(err, errlen, "%s: invalid flags 0x%x", name, h->flags);
            return -1;
        }
        break;
    case DSM_MSG_PAGE: {
        uint32_t f = h->flags;
        int kinds = !!(f & DSM_PF_SHARED) + !!(f & DSM_PF_EXCL);
        if ((f & ~DSM_PF_MASK) || kinds != 1 ||
            ((f & DSM_PF_ZERO) && (f & DSM_PF_NODATA)) ||
            ((f & DSM_PF_NODATA) && !(f & DSM_PF_EXCL)) ||
            ((f & DSM_PF_AHEAD) && (f & (DSM_PF_EXCL | DSM_PF_ZERO)))) {
            snprintf(err, errlen, "PAGE: invalid flags 0x%x", f);
            return -1;
        }
        if (h->arg != 0) {
            snprintf(err, errlen, "PAGE: unexpected arg");
            return -1;
        }
        break;
    }
    case DSM_MSG_WU_REQ:
        if (h->arg >= DSM_PAGE_SIZE || h->arg + h->payload_len > DSM_PAGE_SIZE) {
            snprintf(err, errlen, "WU_REQ: bytes [%llu, +%u) cross the page end",
                     (unsigned long long)h->arg, h->payload_len);
            return -1;
        }
        if (h->flags) {
            snprintf(err, errlen, "WU_REQ: invalid flags 0x%x", h->flags);
            return -1;
        }
        break;
    case DSM_MSG_BARRIER:
        if (lim->self != 0) {
            snprintf(err, errlen, "BARRIER sent to node %d, not the coordinator", lim->self);
            return -1;
        }
        /* fall through */
    default:
        if (h->flags) {
            snprintf(err, errlen, "%s: invalid flags 0x%x", name, h->flags);
            return -1;
        }
        if (h->type != DSM_MSG_BARRIER && h->type != DSM_MSG_BARRIER_GO &&
            h->type != DSM_MSG_PING && h->type != DSM_MSG_PONG && h->arg != 0) {
            snprintf(err, errlen, "%s: unexpected arg", name);
            return -1;
        }
        break;
    }
    return 0;
}

long dsm_frame_length(const void *buf, size_t len, char *err, size_t errlen)
{
    struct dsm_msg_hdr h;
    if (len < sizeof(h)) {
        return 0;
    }
    memcpy(&h, buf, sizeof(h));
    if (dsm_msg_check_header(&h, err, errlen) < 0) {
        return -1;
    }
    size_t total = sizeof(h) + h.payload_len;
    return len >= total ? (long)total : 0;
}
