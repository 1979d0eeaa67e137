/* handshake.c - authenticated hello exchange, shared by all transports. */
#include "handshake.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "hmac_sha256.h"

#define HELLO_MAGIC 0x4f4c4548u  /* "HELO" */
#define AUTH_MAGIC  0x48545541u  /* "AUTH" */
#define AUTH_LABEL  "dsm-auth-v1"

static void random_bytes(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = getrandom(buf + got, len - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    if (got < len) {
        /* Should not happen; keep nonces unique at least per process. */
        struct dsm_sha256 s;
        uint8_t h[32];
        pid_t pid = getpid();
        dsm_sha256_init(&s);
        dsm_sha256_update(&s, &pid, sizeof(pid));
        dsm_sha256_update(&s, &buf, sizeof(buf));
        dsm_sha256_final(&s, h);
        memcpy(buf, h, len < 32 ? len : 32);
    }
}

void dsm_hello_build(const struct dsm_hs_params *p, struct dsm_hello *out)
{
    memset(out, 0, sizeof(*out));
    out->magic = HELLO_MAGIC;
    out->version = DSM_PROTOCOL_VERSION;
    out->node_id = (uint16_t)p->self;
    out->num_nodes = (uint16_t)p->num_nodes;
    out->nregions = (uint16_t)p->nregions;
    out->page_size = DSM_PAGE_SIZE;
    for (int i = 0; i < p->nregions && i < DSM_MAX_REGIONS; i++) {
        out->region_sizes[i] = p->region_sizes[i];
    }
    random_bytes(out->nonce, sizeof(out->nonce));
}

int dsm_hello_check(const struct dsm_hs_params *p, const struct dsm_hello *h,
                    int expected_peer, char *err, size_t errlen)
{
    if (h->magic != HELLO_MAGIC) {
        snprintf(err, errlen, "not a dsm hello (magic 0x%08x)", h->magic);
        return -1;
    }
    if (h->version != DSM_PROTOCOL_VERSION) {
        snprintf(err, errlen, "protocol version differs: peer %u, local %u",
                 h->version, DSM_PROTOCOL_VERSION);
        return -1;
    }
    if (h->num_nodes != p->num_nodes) {
        snprintf(err, errlen, "number of nodes differs: peer %u, local %d",
                 h->num_nodes, p->num_nodes);
        return -1;
    }
    if (h->node_id >= p->num_nodes || h->node_id == p->self) {
        snprintf(err, errlen, "peer claims node id %u (local node %d of %d)",
                 h->node_id, p->self, p->num_nodes);
        return -1;
    }
    if (expected_peer >= 0 && h->node_id != expected_peer) {
        snprintf(err, errlen, "node id differs: expected node %d, peer says %u",
                 expected_peer, h->node_id);
        return -1;
    }
    if (h->page_size != DSM_PAGE_SIZE) {
        snprintf(err, errlen, "page size differs: peer %u, local %u", h->page_size,
                 DSM_PAGE_SIZE);
        return -1;
    }
    if (h->nregions != p->nregions) {
        snprintf(err, errlen, "region count differs: peer %u, local %d", h->nregions,
                 p->nregions);
        return -1;
    }
    for (int i = 0; i < p->nregions; i++) {
        if (h->region_sizes[i] != p->region_sizes[i]) {
            snprintf(err, errlen, "size of region %d differs: peer %llu, local %llu bytes",
                     i, (unsigned long long)h->region_sizes[i],
                     (unsigned long long)p->region_sizes[i]);
            return -1;
        }
    }
    return 0;
}

void dsm_auth_mac(const struct dsm_hs_params *p, const struct dsm_hello *from,
                  const struct dsm_hello *to, uint8_t mac[32])
{
    struct dsm_hmac h;
    dsm_hmac_init(&h, p->secret, p->secret_len);
    dsm_hmac_update(&h, AUTH_LABEL, sizeof(AUTH_LABEL));
    dsm_hmac_update(&h, from, sizeof(*from));
    dsm_hmac_update(&h, to, sizeof(*to));
    dsm_hmac_final(&h, mac);
}

int dsm_handshake(const struct dsm_hs_params *p, const struct dsm_hs_io *io,
                  int expected_peer, char *err, size_t errlen)
{
    struct dsm_hello mine, theirs;
    struct dsm_auth out, in;
    char why[160] = "";

    dsm_hello_build(p, &mine);
    int rc = io->send(io->opaque, &mine, sizeof(mine));
    if (rc == 0) {
        rc = io->recv(io->opaque, &theirs, sizeof(theirs));
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s", rc == DSM_HS_IO_TIMEOUT ? "timed out: no hello in time" :
                 "connection closed before a hello");
        return DSM_HS_LOST;
    }
    int bad = dsm_hello_check(p, &theirs, expected_peer, why, sizeof(why));
    if (!bad && io->admit) {
        bad = io->admit(io->opaque, theirs.node_id, why, sizeof(why));
    }

    memset(&out, 0, sizeof(out));
    out.magic = AUTH_MAGIC;
    out.refused = bad ? 1 : 0;
    memcpy(out.reason, why, sizeof(out.reason) - 1);
    dsm_auth_mac(p, &mine, &theirs, out.mac);
    rc = io->send(io->opaque, &out, sizeof(out));
    if (rc == 0) {
        rc = io->recv(io->opaque, &in, sizeof(in));
    }
    if (rc < 0) {
        /* A refused peer need not answer: its hello decides. */
        if (bad) {
            snprintf(err, errlen, "refused peer: %s", why);
            return -1;
        }
        snprintf(err, errlen, "no authentication from the peer (%s)",
                 rc == DSM_HS_IO_TIMEOUT ? "timed out" : "connection closed");
        return DSM_HS_LOST;
    }
    in.reason[sizeof(in.reason) - 1] = 0;
    if (bad) {
        snprintf(err, errlen, "refused peer: %s", why);
        return -1;
    }
    if (in.magic != AUTH_MAGIC) {
        snprintf(err, errlen, "malformed authentication message from node %u", theirs.node_id);
        return -1;
    }
    if (in.refused) {
        snprintf(err, errlen, "node %u refused us: %s", theirs.node_id, in.reason);
        return -1;
    }
    uint8_t expect[32];
    dsm_auth_mac(p, &theirs, &mine, expect);
    /* Final verdict, so that both ends fail if either one rejects the MAC. */
    uint32_t verdict = dsm_mac_equal(expect, in.mac, 32) ? 0 : 1, peer_verdict = 1;
    if (!verdict && io->authenticated && io->authenticated(io->opaque, theirs.node_id) < 0) {
        snprintf(err, errlen, "dropped after authentication");
        return DSM_HS_LOST;
    }
    rc = io->send(io->opaque, &verdict, sizeof(verdict));
    if (rc == 0) {
        rc = io->recv(io->opaque, &peer_verdict, sizeof(peer_verdict));
    }
    if (rc < 0 && verdict) {
        snprintf(err, errlen, "authentication of node %u failed: cluster secret differs",
                 theirs.node_id);
        return -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "no final verdict from the peer (%s)",
                 rc == DSM_HS_IO_TIMEOUT ? "timed out" : "connection closed");
        return DSM_HS_LOST;
    }
    if (verdict) {
        snprintf(err, errlen, "authentication of node %u failed: cluster secret differs",
                 theirs.node_id);
        return -1;
    }
    if (peer_verdict) {
        snprintf(err, errlen, "node %u rejected our authentication: cluster secret differs",
                 theirs.node_id);
        return -1;
    }
    return theirs.node_id;
}
