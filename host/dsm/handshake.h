/* handshake.h - connection setup: hello, compatibility check, HMAC auth.
 *
 * Both ends send HELLO (version, node id, node count, region layout,
 * random nonce), check the peer's, then send AUTH carrying a verdict and
 * HMAC-SHA256(secret, label || sender's hello || receiver's hello), then a
 * final verdict.  Both nonces are covered, so a recorded exchange cannot be
 * replayed.  Any difference is reported with a message naming it.
 */
#ifndef DSM_HANDSHAKE_H
#define DSM_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "dsm.h"

struct dsm_hs_params {
    int self;
    int num_nodes;
    int nregions;
    uint64_t region_sizes[DSM_MAX_REGIONS];
    const void *secret;
    size_t secret_len;
};

struct dsm_hello {
    uint32_t magic;
    uint16_t version;
    uint16_t node_id;
    uint16_t num_nodes;
    uint16_t nregions;
    uint32_t page_size;
    uint64_t region_sizes[DSM_MAX_REGIONS];
    uint8_t nonce[32];
};

struct dsm_auth {
    uint32_t magic;
    uint32_t refused;       /* nonzero: reason holds why */
    uint8_t mac[32];
    char reason[160];
};

/* What io->recv returns besides 0. */
#define DSM_HS_IO_CLOSED   (-1)   /* closed, reset or unreadable */
#define DSM_HS_IO_TIMEOUT  (-2)   /* nothing (or not enough) before the deadline */

/* Raw byte I/O on one not-yet-framed connection. */
struct dsm_hs_io {
    void *opaque;
    int (*send)(void *opaque, const void *buf, size_t len);     /* 0 or -1 */
    int (*recv)(void *opaque, void *buf, size_t len); /* exactly len: 0 or DSM_HS_IO_* */
    /* Optional, listener side: may refuse a peer that passed the hello
     * check (e.g. its id is already connected).  0 admits; -1 and why. */
    int (*admit)(void *opaque, int peer, char *why, size_t whylen);
    /* Optional: the peer proved it knows the secret; returning -1 still
     * drops the connection (DSM_HS_LOST), e.g. when it was pushed out. */
    int (*authenticated)(void *opaque, int peer);
};

/* dsm_handshake() result when the connection ended before any verdict
 * (closed, timed out): the other end may try again.  -1 is a refusal. */
#define DSM_HS_LOST (-2)

void dsm_hello_build(const struct dsm_hs_params *p, struct dsm_hello *out);

/* 0 if compatible; else -1 and a message naming the difference.
 * expected_peer < 0 accepts any peer id (listener side). */
int dsm_hello_check(const struct dsm_hs_params *p, const struct dsm_hello *peer,
                    int expected_peer, char *err, size_t errlen);

void dsm_auth_mac(const struct dsm_hs_params *p, const struct dsm_hello *from,
                  const struct dsm_hello *to, uint8_t mac[32]);

/* Runs the whole exchange.  Returns the peer's node id, or -1 (refused,
 * err says why) or DSM_HS_LOST (err says how). */
int dsm_handshake(const struct dsm_hs_params *p, const struct dsm_hs_io *io,
                  int expected_peer, char *err, size_t errlen);

#endif
