/* test-unit.c - tests of the pure parts (SHA-256/HMAC, wire format,
 * handshake), a single-node library test, and rogue-peer tests: a fake
 * node sends malformed messages to a real one, which must drop the
 * connection with a clear reason and keep running.
 *
 *   test-unit                  run everything
 *   test-unit --write-corpus D write fuzzer seed frames into directory D
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsm.h"
#include "handshake.h"
#include "hmac_sha256.h"
#include "proto.h"
#include "rdma_wire.h"
#include "transport_addr.h"

static int passed, failed;

#define CHECK(cond, ...) do { \
        if (cond) { passed++; } else { failed++; \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
    } while (0)

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", b[i]);
    }
}

/* ---- SHA-256 / HMAC ------------------------------------------------------ */

static void test_sha256(void)
{
    static const struct { const char *in; const char *out; } v[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    };
    uint8_t d[32];
    char h[65];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        dsm_sha256(v[i].in, strlen(v[i].in), d);
        hex(d, 32, h);
        CHECK(!strcmp(h, v[i].out), "sha256(\"%s\") = %s", v[i].in, h);
    }
    /* one million 'a', fed in uneven pieces */
    struct dsm_sha256 s;
    char a[1000];
    memset(a, 'a', sizeof(a));
    dsm_sha256_init(&s);
    size_t left = 1000000, piece = 1;
    while (left) {
        size_t n = piece < left ? piece : left;
        n = n > sizeof(a) ? sizeof(a) : n;
        dsm_sha256_update(&s, a, n);
        left -= n;
        piece = piece * 3 % 997 + 1;
    }
    dsm_sha256_final(&s, d);
    hex(d, 32, h);
    CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
          "sha256(1M 'a') = %s", h);
}

static void test_hmac(void)
{
    uint8_t k20[20], kaa[131], ddd[50], d[32];
    char h[65];
    memset(k20, 0x0b, sizeof(k20));
    memset(kaa, 0xaa, sizeof(kaa));
    memset(ddd, 0xdd, sizeof(ddd));
    struct { const void *key; size_t klen; const void *data; size_t dlen; const char *out; } v[] = {
        { k20, 20, "Hi There", 8,
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        { "Jefe", 4, "what do ya want for nothing?", 28,
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        { kaa, 20, ddd, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
        { kaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
        { kaa, 131, "This is a test using a larger than block-size key and a larger than "
          "block-size data. The key needs to be hashed before being used by the HMAC "
          "algorithm.", 152,
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        dsm_hmac_sha256(v[i].key, v[i].klen, v[i].data, v[i].dlen, d);
        hex(d, 32, h);
        CHECK(!strcmp(h, v[i].out), "RFC 4231 case %zu: %s", i, h);
    }
    uint8_t a[32] = { 1 }, b[32] = { 1 };
    CHECK(dsm_mac_equal(a, b, 32), "equal MACs");
    b[31] = 2;
    CHECK(!dsm_mac_equal(a, b, 32), "different MACs");
}

/* ---- wire format ---------------------------------------------------------- */

static const struct dsm_proto_limits lim4 = { .self = 1, .num_nodes = 4, .total_pages = 100 };

static int valid(unsigned type, int src, uint64_t page, uint64_t arg, uint32_t flags,
                 uint32_t len)
{
    struct dsm_msg_hdr h;
    char err[256];
    dsm_msg_init(&h, type, src, page, arg, flags, len);
    return dsm_msg_validate(&h, src, &lim4, err, sizeof(err)) == 0;
}

/* Homes: interleaved regions and regions managed by one node, every page
 * with exactly one manager and a dense, unique slot on it. */
static void test_homes(void)
{
    struct dsm_home_map m = { .num_nodes = 3, .nregions = 3 };
    m.r[0] = (struct dsm_home_region){ 0, 10, DSM_HOME_INTERLEAVE };
    m.r[1] = (struct dsm_home_region){ 10, 7, 2 };
    m.r[2] = (struct dsm_home_region){ 17, 5, 0 };
    CHECK(dsm_home_of(&m, 4) == 1, "interleaved page 4 is node 1's");
    CHECK(dsm_home_of(&m, 10) == 2 && dsm_home_of(&m, 16) == 2, "region 1 is node 2's");
    CHECK(dsm_home_of(&m, 21) == 0, "region 2 is node 0's");
    CHECK(dsm_home_of(&m, 22) == -1, "beyond the regions");
    for (int self = 0; self < 3; self++) {
        uint64_t count = dsm_home_count(&m, self), managed = 0;
        uint8_t used[32] = { 0 };
        for (uint64_t p = 0; p < 22; p++) {
            if (dsm_home_of(&m, p) != self) {
                continue;
            }
            uint64_t slot = dsm_home_slot(&m, self, p);
            CHECK(slot < count && !used[slot], "node %d: page %llu has a free slot (%llu of %llu)",
                  self, (unsigned long long)p, (unsigned long long)slot,
                  (unsigned long long)count);
            if (slot < count) {
                used[slot] = 1;
            }
            managed++;
        }
        CHECK(managed <= count, "node %d manages %llu pages in %llu slots", self,
              (unsigned long long)managed, (unsigned long long)count);
    }
    /* the wire check follows the map: requests for a page go to its home only */
    struct dsm_proto_limits lim = { .self = 2, .num_nodes = 3, .total_pages = 22, .homes = &m };
    struct dsm_msg_hdr h;
    char err[256];
    dsm_msg_init(&h, DSM_MSG_READ_REQ, 0, 12, 0, 0, 0);
    CHECK(dsm_msg_validate(&h, 0, &lim, err, sizeof(err)) == 0, "READ_REQ to the home node");
    dsm_msg_init(&h, DSM_MSG_READ_REQ, 0, 5, 0, 0, 0);
    CHECK(dsm_msg_validate(&h, 0, &lim, err, sizeof(err)) == 0, "READ_REQ, interleaved page 5");
    dsm_msg_init(&h, DSM_MSG_READ_REQ, 0, 4, 0, 0, 0);
    CHECK(dsm_msg_validate(&h, 0, &lim, err, sizeof(err)) < 0, "READ_REQ, node 1's page 4");
    dsm_msg_init(&h, DSM_MSG_WRITE_REQ, 1, 18, 0, 0, 0);
    CHECK(dsm_msg_validate(&h, 1, &lim, err, sizeof(err)) < 0, "WRITE_REQ for node 0's page");
}

static void test_proto(void)
{
    char err[256];
    /* page 5 is managed by node 1 (5 % 4) */
    CHECK(valid(DSM_MSG_READ_REQ, 0, 5, 0, 0, 0), "READ_REQ to manager");
    CHECK(!valid(DSM_MSG_READ_REQ, 0, 6, 0, 0, 0), "READ_REQ to non-manager");
    CHECK(!valid(DSM_MSG_READ_REQ, 0, 101, 0, 0, 0), "page beyond regions");
    CHECK(!valid(DSM_MSG_READ_REQ, 0, 5, 0, 0, 4096), "request with payload");
    CHECK(valid(DSM_MSG_FWD_READ, 2, 6, 3, 0, 0), "FWD_READ");
    CHECK(!valid(DSM_MSG_FWD_READ, 2, 6, 4, 0, 0), "FWD_READ requester out of range");
    CHECK(!valid(DSM_MSG_FWD_READ, 2, 6, 1, 0, 0), "FWD_READ to the requester itself");
    CHECK(valid(DSM_MSG_FWD_WRITE, 2, 6, 3, DSM_PF_NODATA, 0), "FWD_WRITE nodata");
    CHECK(!valid(DSM_MSG_FWD_WRITE, 2, 6, 3, DSM_PF_SHARED, 0), "FWD_WRITE bad flags");
    CHECK(valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED, 4096), "PAGE shared");
    CHECK(valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED | DSM_PF_ZERO, 0), "PAGE zero");
    CHECK(valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_EXCL | DSM_PF_NODATA, 0), "PAGE nodata");
    CHECK(!valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED, 0), "PAGE missing data");
    CHECK(!valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED | DSM_PF_ZERO, 4096), "zero PAGE with data");
    CHECK(!valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED | DSM_PF_EXCL, 4096), "shared+excl");
    CHECK(!valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED | DSM_PF_NODATA, 0), "shared nodata");
    CHECK(!valid(DSM_MSG_PAGE, 2, 7, 0, 0x100 | DSM_PF_SHARED, 4096), "unknown flag");
    CHECK(!valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED, 4095), "short page");
    CHECK(valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED | DSM_PF_AHEAD, 4096), "read-ahead PAGE");
    CHECK(!valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_EXCL | DSM_PF_AHEAD, 4096), "exclusive ahead");
    CHECK(!valid(DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED | DSM_PF_ZERO | DSM_PF_AHEAD, 0),
          "zero page ahead");
    CHECK(valid(DSM_MSG_WU_REQ, 0, 9, 4000, 0, 96), "WU_REQ fits");
    CHECK(!valid(DSM_MSG_WU_REQ, 0, 9, 4000, 0, 97), "WU_REQ crosses page end");
    CHECK(!valid(DSM_MSG_WU_REQ, 0, 9, 0, 0, 0), "empty WU_REQ");
    CHECK(valid(DSM_MSG_APP, 3, 0, 0, 0, DSM_APP_MSG_MAX), "max APP");
    CHECK(!valid(DSM_MSG_APP, 3, 0, 0, 0, DSM_APP_MSG_MAX + 1), "oversized APP");
    CHECK(!valid(DSM_MSG_APP, 3, 0, 0, 0, 0), "empty APP");
    CHECK(!valid(DSM_MSG_BARRIER, 3, 0, 1, 0, 0), "BARRIER to non-coordinator");
    CHECK(valid(DSM_MSG_BARRIER_GO, 0, 0, 7, 0, 0), "BARRIER_GO");
    CHECK(valid(DSM_MSG_BYE, 2, 0, 0, 0, 0), "BYE");
    CHECK(!valid(DSM_MSG_BYE, 2, 0, 1, 0, 0), "BYE with arg");
    CHECK(!valid(0, 2, 0, 0, 0, 0), "type 0");
    CHECK(!valid(DSM_MSG_TYPE_MAX, 2, 0, 0, 0, 0), "type max");

    struct dsm_msg_hdr h;
    dsm_msg_init(&h, DSM_MSG_INV, 2, 5, 0, 0, 0);
    CHECK(dsm_msg_validate(&h, 3, &lim4, err, sizeof(err)) < 0 && strstr(err, "source node"),
          "spoofed source: %s", err);
    h.magic = 0x1234;
    CHECK(dsm_msg_validate(&h, 2, &lim4, err, sizeof(err)) < 0 && strstr(err, "magic"),
          "bad magic: %s", err);
    dsm_msg_init(&h, DSM_MSG_INV, 2, 5, 0, 0, 0);
    h.reserved = 1;
    CHECK(dsm_msg_validate(&h, 2, &lim4, err, sizeof(err)) < 0, "reserved bits");

    /* framing */
    uint8_t buf[sizeof(h) + 4096];
    dsm_msg_init(&h, DSM_MSG_PAGE, 2, 7, 0, DSM_PF_SHARED, 4096);
    memcpy(buf, &h, sizeof(h));
    CHECK(dsm_frame_length(buf, 10, err, sizeof(err)) == 0, "partial header");
    CHECK(dsm_frame_length(buf, sizeof(h) + 100, err, sizeof(err)) == 0, "partial payload");
    CHECK(dsm_frame_length(buf, sizeof(buf), err, sizeof(err)) == (long)sizeof(buf), "full frame");
    h.payload_len = 1u << 30;
    memcpy(buf, &h, sizeof(h));
    CHECK(dsm_frame_length(buf, sizeof(buf), err, sizeof(err)) < 0, "huge payload refused early");
    CHECK(strcmp(dsm_msg_type_name(DSM_MSG_FWD_WRITE), "FWD_WRITE") == 0, "type names");
}

/* ---- handshake ------------------------------------------------------------ */

static void params(struct dsm_hs_params *p, int self, const char *secret)
{
    memset(p, 0, sizeof(*p));
    p->self = self;
    p->num_nodes = 3;
    p->nregions = 2;
    p->region_sizes[0] = 1 << 20;
    p->region_sizes[1] = 1 << 16;
    p->secret = secret;
    p->secret_len = strlen(secret);
}

static void test_hello_check(void)
{
    struct dsm_hs_params a, b;
    struct dsm_hello h;
    char err[256];
    params(&a, 0, "s");
    params(&b, 1, "s");
    dsm_hello_build(&b, &h);
    CHECK(dsm_hello_check(&a, &h, 1, err, sizeof(err)) == 0, "compatible hello: %s", err);
    CHECK(dsm_hello_check(&a, &h, 2, err, sizeof(err)) < 0 && strstr(err, "node id"),
          "wrong peer: %s", err);
    b.num_nodes = 4;
    dsm_hello_build(&b, &h);
    CHECK(dsm_hello_check(&a, &h, 1, err, sizeof(err)) < 0 && strstr(err, "number of nodes"),
          "node count: %s", err);
    params(&b, 1, "s");
    b.region_sizes[1] = 1 << 17;
    dsm_hello_build(&b, &h);
    CHECK(dsm_hello_check(&a, &h, 1, err, sizeof(err)) < 0 && strstr(err, "region 1"),
          "region size: %s", err);
    params(&b, 1, "s");
    b.nregions = 1;
    dsm_hello_build(&b, &h);
    CHECK(dsm_hello_check(&a, &h, 1, err, sizeof(err)) < 0 && strstr(err, "region count"),
          "region count: %s", err);
    params(&b, 1, "s");
    dsm_hello_build(&b, &h);
    h.version = 99;
    CHECK(dsm_hello_check(&a, &h, 1, err, sizeof(err)) < 0 && strstr(err, "version"),
          "version: %s", err);
}

struct hs_side {
    struct dsm_hs_params p;
    int fd, expected, result;
    char err[256];
    int (*admit)(void *opaque, int peer, char *why, size_t whylen);
};

static int sock_send(void *o, const void *b, size_t n)
{
    return send(*(int *)o, b, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static int sock_recv(void *o, void *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(*(int *)o, (uint8_t *)b + got, n - got);
        if (r <= 0) {
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static void *hs_thread(void *arg)
{
    struct hs_side *s = arg;
    struct dsm_hs_io io = { .opaque = &s->fd, .send = sock_send, .recv = sock_recv,
                            .admit = s->admit };
    s->result = dsm_handshake(&s->p, &io, s->expected, s->err, sizeof(s->err));
    return NULL;
}

static int refuse_all(void *opaque, int peer, char *why, size_t whylen)
{
    (void)opaque;
    snprintf(why, whylen, "node %d is taken", peer);
    return -1;
}

static void run_pair(struct hs_side *a, struct hs_side *b)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    a->fd = sv[0];
    b->fd = sv[1];
    pthread_t t;
    pthread_create(&t, NULL, hs_thread, b);
    hs_thread(a);
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
}

static void test_handshake(void)
{
    struct hs_side a = { .expected = 2 }, b = { .expected = -1 };
    params(&a.p, 0, "cluster-secret");
    params(&b.p, 2, "cluster-secret");
    run_pair(&a, &b);
    CHECK(a.result == 2 && b.result == 0, "handshake ok: %d %d (%s / %s)", a.result, b.result,
          a.err, b.err);

    params(&b.p, 2, "other-secret");
    run_pair(&a, &b);
    CHECK(a.result < 0 && b.result < 0 && strstr(a.err, "secret") && strstr(b.err, "secret"),
          "wrong secret refused: '%s' / '%s'", a.err, b.err);

    params(&b.p, 2, "cluster-secret");
    b.p.region_sizes[0] = 4096;
    run_pair(&a, &b);
    CHECK(a.result < 0 && b.result < 0 && strstr(a.err, "region 0") && strstr(b.err, "region 0"),
          "layout mismatch named on both sides: '%s' / '%s'", a.err, b.err);

    /* the listener's admit hook refuses a node id before authentication */
    params(&b.p, 2, "cluster-secret");
    b.admit = refuse_all;
    run_pair(&a, &b);
    b.admit = NULL;
    CHECK(a.result == -1 && b.result == -1 && strstr(a.err, "refused us: node 0 is taken") &&
          strstr(b.err, "node 0 is taken"), "admit refusal named on both sides: '%s' / '%s'",
          a.err, b.err);

    /* a connection that ends before any verdict may be retried: DSM_HS_LOST */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    a.fd = sv[0];
    hs_thread(&a);
    close(sv[0]);
    CHECK(a.result == DSM_HS_LOST && strstr(a.err, "closed"),
          "closed before hello: %d '%s'", a.result, a.err);
}

/* ---- single node, in process ---------------------------------------------- */

/* ---- RDMA framing and credits (rdma_wire.c: no device needed) ---- */

static size_t rdma_frame(uint8_t *buf, unsigned kind, unsigned credits, const void *data,
                         size_t len)
{
    struct rdma_frame_hdr fh;
    memset(&fh, 0, sizeof(fh));
    fh.magic = RDMA_FRAME_MAGIC;
    fh.kind = (uint8_t)kind;
    fh.credits = (uint16_t)credits;
    fh.len = (uint32_t)len;
    memcpy(buf, &fh, sizeof(fh));
    if (len) {
        memcpy(buf + sizeof(fh), data, len);
    }
    return sizeof(fh) + len;
}

static void test_rdma_frames(void)
{
    static uint8_t buf[RDMA_SLOT_SIZE + 64], msg[RDMA_MSG_MAX + 64], big[RDMA_MSG_MAX];
    struct rdma_frame_hdr fh;
    char err[256];
    struct dsm_msg_hdr h;
    /* a page message fits one frame; its header and length are checked */
    dsm_msg_init(&h, DSM_MSG_PAGE, 0, 3, 0, DSM_PF_SHARED, DSM_PAGE_SIZE);
    memcpy(msg, &h, sizeof(h));
    size_t n = rdma_frame(buf, RDMA_FK_MSG, 5, msg, sizeof(h) + DSM_PAGE_SIZE);
    CHECK(rdma_frame_parse(buf, n, &fh, err, sizeof(err)) == 0 && fh.credits == 5,
          "page frame: %s", err);
    CHECK(rdma_frame_parse(buf, n - 1, &fh, err, sizeof(err)) < 0 && strstr(err, "arrived"),
          "frame shorter than its header says: '%s'", err);
    CHECK(rdma_frame_parse(buf, 10, &fh, err, sizeof(err)) < 0, "frame shorter than a header");
    CHECK(rdma_frame_parse(buf, RDMA_SLOT_SIZE + 1, &fh, err, sizeof(err)) < 0,
          "frame larger than a buffer");
    /* message header saying more payload than the frame holds */
    dsm_msg_init(&h, DSM_MSG_PAGE, 0, 3, 0, DSM_PF_SHARED, DSM_PAGE_SIZE);
    memcpy(msg, &h, sizeof(h));
    n = rdma_frame(buf, RDMA_FK_MSG, 0, msg, sizeof(h) + 100);
    CHECK(rdma_frame_parse(buf, n, &fh, err, sizeof(err)) < 0, "message longer than its frame");
    n = rdma_frame(buf, RDMA_FK_MSG, 0, msg, sizeof(h) + DSM_PAGE_SIZE + 8);
    CHECK(rdma_frame_parse(buf, n, &fh, err, sizeof(err)) < 0, "message shorter than its frame");
    n = rdma_frame(buf, RDMA_FK_CREDIT, RDMA_RECV_DEPTH + 1, NULL, 0);
    CHECK(rdma_frame_parse(buf, n, &fh, err, sizeof(err)) < 0 && strstr(err, "credits"),
          "more credits than buffers: '%s'", err);
    n = rdma_frame(buf, RDMA_FK_CREDIT, 3, NULL, 0);
    CHECK(rdma_frame_parse(buf, n, &fh, err, sizeof(err)) == 0, "credit frame: %s", err);
    n = rdma_frame(buf, 99, 0, msg, 8);
    CHECK(rdma_frame_parse(buf, n, &fh, err, sizeof(err)) < 0, "unknown kind");
    n = rdma_frame(buf, RDMA_FK_HS, 0, msg, 8);
    buf[0] ^= 1;
    CHECK(rdma_frame_parse(buf, n, &fh, err, sizeof(err)) < 0 && strstr(err, "magic"),
          "bad magic: '%s'", err);
    buf[0] ^= 1;
    buf[3] = 1;
    CHECK(rdma_frame_parse(buf, n, &fh, err, sizeof(err)) < 0, "reserved byte set");

    /* a 64 KiB application message: cut into frames, put together again */
    dsm_msg_init(&h, DSM_MSG_APP, 1, 0, 0, 0, DSM_APP_MSG_MAX);
    memcpy(big, &h, sizeof(h));
    for (size_t i = sizeof(h); i < sizeof(big); i++) {
        big[i] = (uint8_t)(i * 7);
    }
    unsigned frames = rdma_frames_for(sizeof(big));
    CHECK(frames == (sizeof(big) + RDMA_FRAME_DATA_MAX - 1) / RDMA_FRAME_DATA_MAX && frames > 1,
          "frames for 64 KiB: %u", frames);
    CHECK(rdma_frames_for(sizeof(h) + DSM_PAGE_SIZE) == 1, "a page takes one frame");
    struct rdma_reasm r = { msg, 0 };
    int rc = 0;
    for (unsigned k = 0; k < frames; k++) {
        size_t off = (size_t)k * RDMA_FRAME_DATA_MAX;
        size_t len = sizeof(big) - off < RDMA_FRAME_DATA_MAX ? sizeof(big) - off :
                     RDMA_FRAME_DATA_MAX;
        rc = rdma_reasm_add(&r, k + 1 == frames, big + off, len, err, sizeof(err));
        if (rc != (k + 1 == frames ? 1 : 0)) {
            break;
        }
    }
    CHECK(rc == 1 && r.len == sizeof(big) && !memcmp(msg, big, sizeof(big)),
          "reassembly: rc %d len %zu: %s", rc, r.len, err);
    /* a last fragment before the message's end, and parts beyond it */
    r.len = 0;
    CHECK(rdma_reasm_add(&r, 0, big, RDMA_FRAME_DATA_MAX, err, sizeof(err)) == 0 &&
          rdma_reasm_add(&r, 1, big + RDMA_FRAME_DATA_MAX, 100, err, sizeof(err)) < 0,
          "early last fragment accepted");
    r.len = 0;
    for (rc = 0; rc == 0 && r.len < sizeof(big);) {
        rc = rdma_reasm_add(&r, 0, big + r.len, RDMA_FRAME_DATA_MAX < sizeof(big) - r.len ?
                            RDMA_FRAME_DATA_MAX : sizeof(big) - r.len, err, sizeof(err));
    }
    CHECK(rc == 0 && rdma_reasm_add(&r, 1, big, 16, err, sizeof(err)) < 0,
          "fragments beyond the message accepted");
    /* fragmenting a message that fits one frame is refused */
    dsm_msg_init(&h, DSM_MSG_APP, 1, 0, 0, 0, 10);
    memcpy(big, &h, sizeof(h));
    r.len = 0;
    CHECK(rdma_reasm_add(&r, 0, big, 20, err, sizeof(err)) == 0 &&
          rdma_reasm_add(&r, 1, big + 20, sizeof(h) + 10 - 20, err, sizeof(err)) < 0,
          "a small message in fragments accepted");
    r.len = 0;
    memset(big, 0xee, sizeof(h));
    CHECK(rdma_reasm_add(&r, 0, big, 100, err, sizeof(err)) < 0, "bad header in a fragment");
}

/* Two ends exchanging bursts through RDMA_RECV_DEPTH receive buffers each,
 * frames and credits following rdma_wire.h, in a random interleaving: no
 * end ever has more frames coming than buffers posted, every burst gets
 * through, and once idle no credit updates bounce back and forth. */
struct rdma_end {
    struct rdma_credits cr;
    unsigned backlog;             /* data frames waiting to be sent */
    unsigned inflight;            /* frames on the way to this end, unhandled */
    unsigned credits_in[4096];    /* credits carried by each of those, FIFO */
    unsigned head;
    unsigned sent_updates;
};

static int rdma_end_send(struct rdma_end *from, struct rdma_end *to)
{
    int sent = 0;
    while (from->backlog && rdma_credits_can_send(&from->cr)) {
        to->credits_in[(to->head + to->inflight++) % 4096] = rdma_credits_on_send(&from->cr);
        from->backlog--;
        sent++;
    }
    if (rdma_credits_want_update(&from->cr)) {
        to->credits_in[(to->head + to->inflight++) % 4096] = rdma_credits_on_send(&from->cr);
        from->sent_updates++;
        sent++;
    }
    return sent;
}

static int rdma_end_recv(struct rdma_end *e)
{
    if (!e->inflight) {
        return 0;
    }
    unsigned c = e->credits_in[e->head];
    e->head = (e->head + 1) % 4096;
    e->inflight--;
    if (rdma_credits_on_grant(&e->cr, c) < 0) {
        return -1;
    }
    rdma_credits_on_repost(&e->cr);
    return 1;
}

static void test_rdma_credits(void)
{
    unsigned seed = 12345;
    int overrun = 0, stuck = 0, bounced = 0, granted_bad = 0;
    for (int run = 0; run < 200; run++) {
        struct rdma_end e[2];
        memset(e, 0, sizeof(e));
        rdma_credits_init(&e[0].cr);
        rdma_credits_init(&e[1].cr);
        long steps = 0;
        for (int burst = 0; burst < 20; burst++) {
            seed = seed * 1103515245u + 12345u;
            e[0].backlog += (seed >> 8) % 300;
            e[1].backlog += (seed >> 18) % 300;
            while (e[0].backlog || e[1].backlog || e[0].inflight || e[1].inflight) {
                seed = seed * 1103515245u + 12345u;
                int who = (int)((seed >> 16) & 1), what = (int)((seed >> 20) % 3);
                if (what == 0) {
                    rdma_end_send(&e[who], &e[!who]);
                } else if (rdma_end_recv(&e[who]) < 0) {
                    granted_bad++;
                }
                for (int k = 0; k < 2; k++) {
                    /* frames on the way + buffers handled but not posted yet
                     * (none here: posted at once) never exceed the buffers */
                    if (e[k].inflight > RDMA_RECV_DEPTH) {
                        overrun++;
                    }
                }
                if (++steps > 10000000) {
                    stuck++;
                    break;
                }
            }
        }
        /* idle: at most a few final updates, then silence */
        unsigned before = e[0].sent_updates + e[1].sent_updates;
        for (int k = 0; k < 100; k++) {
            rdma_end_send(&e[k & 1], &e[!(k & 1)]);
            rdma_end_recv(&e[0]);
            rdma_end_recv(&e[1]);
        }
        if (e[0].sent_updates + e[1].sent_updates - before > 4) {
            bounced++;
        }
    }
    CHECK(!overrun && !stuck && !bounced && !granted_bad,
          "credits: %d overruns, %d stuck runs, %d bouncing updates, %d bad grants", overrun,
          stuck, bounced, granted_bad);
    struct rdma_credits c;
    rdma_credits_init(&c);
    CHECK(rdma_credits_on_grant(&c, 1) < 0, "a grant beyond the buffers is refused");
}

static atomic_int replaced;

static void count_replaced(void *o, void *a, size_t l)
{
    (void)o; (void)a; (void)l;
    atomic_fetch_add(&replaced, 1);
}

static void test_single_node(void)
{
    struct dsm_config cfg;
    char err[256];
    dsm_config_init(&cfg);
    cfg.num_nodes = 1;
    cfg.transport = DSM_TRANSPORT_SHM;
    cfg.shm_name = "unused";
    struct dsm_callbacks cb = { .page_replaced = count_replaced };
    struct dsm *d = dsm_create(&cfg, &cb, err, sizeof(err));
    CHECK(d != NULL, "dsm_create: %s", err);
    if (!d) {
        return;
    }
    size_t size = 64 * DSM_PAGE_SIZE;
    uint8_t *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(dsm_add_region(d, a, size) == 0, "add region a");
    CHECK(dsm_add_region(d, b, size) == 0, "add region b");
    CHECK(dsm_add_region(d, a + 4096, 4096) < 0, "overlapping region refused");
    CHECK(dsm_add_region(d, a + 1, 4096) < 0, "unaligned region refused");
    CHECK(dsm_set_policy(d, b + 4096, 4096, DSM_POLICY_WRITE_UPDATE) == 0, "policy before start");
    static uint8_t elsewhere[DSM_PAGE_SIZE] __attribute__((aligned(4096)));
    CHECK(dsm_set_policy(d, elsewhere, 4096, DSM_POLICY_WRITE_UPDATE) < 0,
          "policy outside regions");
    CHECK(dsm_start(d, err, sizeof(err)) == 0, "dsm_start: %s", err);
    b[4096 + 3] = 1;   /* plain store into a write-update page */
    CHECK(a[5] == 0 && b[4096 * 3] == 0, "zero pages read");
    a[100] = 7;
    b[200] = 9;
    CHECK(a[100] == 7 && b[200] == 9, "writes");
    uint64_t v = 0x1122334455667788ull;
    CHECK(dsm_write_update(d, b + 8, &v, sizeof(v)) == 0, "write_update");
    CHECK(memcmp(b + 8, &v, 8) == 0 && b[200] == 9, "write_update content");
    struct dsm_stats s;
    dsm_get_stats(d, &s);
    CHECK(s.read_faults >= 2 && s.write_faults >= 2 && s.faults_remote == 0 && s.faults_local >= 4,
          "stats: %llu reads, %llu writes, %llu local", (unsigned long long)s.read_faults,
          (unsigned long long)s.write_faults, (unsigned long long)s.faults_local);
    CHECK(s.zero_page_installs >= 3 && s.wu_updates == 1, "zero installs %llu wu %llu",
          (unsigned long long)s.zero_page_installs, (unsigned long long)s.wu_updates);
    CHECK(s.wu_fallbacks == 1, "wu fallbacks %llu", (unsigned long long)s.wu_fallbacks);
    CHECK(atomic_load(&replaced) >= 4, "page_replaced called %d times", atomic_load(&replaced));
    char buf[2048];
    CHECK(dsm_format_stats(&s, buf, sizeof(buf)) > 0 && strstr(buf, "read_faults"), "format");
    CHECK(dsm_barrier(d, 1000) == 0, "barrier of one");
    dsm_destroy(d);
    munmap(a, size);
    munmap(b, size);
}

/* ---- rogue peer ------------------------------------------------------------ */

struct rogue {
    int port;
    struct dsm_msg_hdr bad;
    uint32_t bad_payload;
    int silent;               /* send nothing; close once release is set */
    atomic_int release;
    atomic_int failed_node;
    char reason[256];
};

static void on_rogue_fail(void *o, int node, const char *reason)
{
    struct rogue *r = o;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    atomic_store(&r->failed_node, node);
}

static void quiet_log(void *o, enum dsm_log_level l, const char *m)
{
    (void)o; (void)l; (void)m;
}

static void *rogue_main(void *arg)
{
    struct rogue *r = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)r->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (int i = 0; i < 200 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0; i++) {
        usleep(10000);
    }
    struct dsm_hs_params p;
    memset(&p, 0, sizeof(p));
    p.self = 1;
    p.num_nodes = 2;
    p.nregions = 1;
    p.region_sizes[0] = 16 * DSM_PAGE_SIZE;
    p.secret = "k";
    p.secret_len = 1;
    struct dsm_hs_io io = { .opaque = &fd, .send = sock_send, .recv = sock_recv };
    char err[256];
    if (dsm_handshake(&p, &io, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "rogue handshake: %s\n", err);
    }
    if (r->silent) {
        while (!atomic_load(&r->release)) {
            usleep(1000);
        }
        close(fd);
        return NULL;
    }
    static uint8_t junk[8192];
    if (write(fd, &r->bad, sizeof(r->bad)) < 0 ||
        (r->bad_payload && write(fd, junk, r->bad_payload) < 0)) {
        perror("rogue write");
    }
    usleep(300000);
    close(fd);
    return NULL;
}

/* A listening loopback socket on a free port; *port set. */
static int listen_loopback(int *port)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof(sa);
    bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
    listen(lfd, 4);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return lfd;
}

#define ROGUE_MEM (16 * DSM_PAGE_SIZE)

/* Node 0 of 2, started with r's rogue as node 1 (interleaved: page 1 is
 * managed by the rogue).  *mem gets the region; NULL if the start failed. */
static struct dsm *start_with_rogue(const char *what, struct rogue *r, pthread_t *t,
                                    uint8_t **mem)
{
    atomic_store(&r->failed_node, -1);
    int lfd = listen_loopback(&r->port);

    struct dsm_config cfg;
    char err[256];
    dsm_config_init(&cfg);
    cfg.node_id = 0;
    cfg.num_nodes = 2;
    cfg.transport = DSM_TRANSPORT_TCP;
    const char *addrs[2] = { "127.0.0.1:1", "127.0.0.1:1" };
    cfg.tcp_addrs = addrs;
    cfg.tcp_listen_fd = lfd;
    cfg.secret = "k";
    cfg.secret_len = 1;
    cfg.connect_timeout_ms = 3000;
    struct dsm_callbacks cb = { .opaque = r, .peer_failed = on_rogue_fail, .log = quiet_log };
    struct dsm *d = dsm_create(&cfg, &cb, err, sizeof(err));
    *mem = mmap(NULL, ROGUE_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    dsm_add_region(d, *mem, ROGUE_MEM);
    pthread_create(t, NULL, rogue_main, r);
    int rc = dsm_start(d, err, sizeof(err));
    CHECK(rc == 0, "%s: start: %s", what, err);
    return d;
}

static void wait_rogue_reported(struct rogue *r)
{
    for (int i = 0; i < 300 && atomic_load(&r->failed_node) < 0; i++) {
        usleep(10000);
    }
}

static void rogue_case(const char *what, struct dsm_msg_hdr bad, uint32_t payload,
                       const char *expect)
{
    struct rogue r = { .bad = bad, .bad_payload = payload };
    pthread_t t;
    uint8_t *mem;
    struct dsm *d = start_with_rogue(what, &r, &t, &mem);
    wait_rogue_reported(&r);
    CHECK(atomic_load(&r.failed_node) == 1 && strstr(r.reason, expect),
          "%s: node %d reported with reason '%s' (want '%s')", what,
          atomic_load(&r.failed_node), r.reason, expect);
    /* the node survived: its own pages still work locally (page 0 managed here) */
    mem[0] = 1;
    CHECK(mem[0] == 1, "%s: node still works", what);
    pthread_join(t, NULL);
    dsm_destroy(d);
    munmap(mem, ROGUE_MEM);
}

static void test_rogue_peer(void)
{
    struct dsm_msg_hdr h;
    dsm_msg_init(&h, DSM_MSG_READ_REQ, 1, 2, 0, 0, 0);
    h.magic = 0xdead;
    rogue_case("bad magic", h, 0, "magic");
    dsm_msg_init(&h, DSM_MSG_READ_REQ, 1, 1000, 0, 0, 0);
    rogue_case("page out of range", h, 0, "page index");
    dsm_msg_init(&h, DSM_MSG_READ_REQ, 0, 2, 0, 0, 0);
    rogue_case("spoofed source", h, 0, "source node");
    dsm_msg_init(&h, DSM_MSG_PAGE, 1, 3, 0, DSM_PF_SHARED, 4096);
    rogue_case("unsolicited page", h, 4096, "does not match a request");
    dsm_msg_init(&h, DSM_MSG_APP, 1, 0, 0, 0, 0);
    h.payload_len = 0x7fffffff;
    rogue_case("oversized frame", h, 0, "payload length");
    dsm_msg_init(&h, DSM_MSG_FWD_READ, 1, 4, 1, 0, 0);
    rogue_case("forward from non-manager", h, 0, "not its manager");
}

/* ---- error returns (dsm.h: -errno) ------------------------------------------ */

static void *map_pages(size_t n)
{
    return mmap(NULL, n * DSM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                -1, 0);
}

static struct dsm *one_node(void)
{
    struct dsm_config cfg;
    char err[256];
    dsm_config_init(&cfg);
    cfg.num_nodes = 1;
    cfg.transport = DSM_TRANSPORT_SHM;
    cfg.shm_name = "unused";
    struct dsm_callbacks cb = { .log = quiet_log };
    struct dsm *d = dsm_create(&cfg, &cb, err, sizeof(err));
    CHECK(d != NULL, "dsm_create: %s", err);
    return d;
}

/* dsm_create(): NULL, a message, and the code in errno. */
static void create_fails(const char *what, const struct dsm_config *cfg, int want)
{
    char err[256] = "";
    errno = 0;
    struct dsm *d = dsm_create(cfg, NULL, err, sizeof(err));
    int e = errno;
    CHECK(d == NULL && e == want && err[0], "dsm_create with %s: %p, errno %d (want %d), '%s'",
          what, (void *)d, e, want, err);
    dsm_destroy(d);
}

static void test_errors_create(void)
{
    struct dsm_config cfg;
    dsm_config_init(&cfg);
    cfg.transport = DSM_TRANSPORT_SHM;
    cfg.shm_name = "unused";
    cfg.num_nodes = 0;
    create_fails("no nodes", &cfg, EINVAL);
    cfg.num_nodes = DSM_MAX_NODES + 1;
    create_fails("too many nodes", &cfg, EINVAL);
    cfg.num_nodes = 2;
    cfg.node_id = 2;
    create_fails("node id out of range", &cfg, EINVAL);
    cfg.node_id = -1;
    create_fails("negative node id", &cfg, EINVAL);
    cfg.node_id = 0;
    cfg.transport = (enum dsm_transport_kind)7;
    create_fails("unknown transport", &cfg, EINVAL);
    cfg.transport = DSM_TRANSPORT_TCP;
    create_fails("tcp without addresses", &cfg, EINVAL);
    cfg.transport = DSM_TRANSPORT_RDMA;
    create_fails("rdma without addresses", &cfg, EINVAL);
    cfg.transport = DSM_TRANSPORT_SHM;
    cfg.secret_len = 4;
    create_fails("secret_len without secret", &cfg, EINVAL);
    char err[64];
    CHECK(dsm_create(NULL, NULL, err, sizeof(err)) == NULL && errno == EINVAL,
          "dsm_create(NULL): errno %d", errno);
}

static void test_errors_one_node(void)
{
    static uint8_t elsewhere[2 * DSM_PAGE_SIZE] __attribute__((aligned(4096)));
    char err[256], buf[8] = "abc";
    uint64_t v = 1;
    struct dsm_page_count pc;

    /* set-up phase */
    struct dsm *d = one_node();
    if (!d) {
        return;
    }
    uint8_t *m = map_pages(DSM_MAX_REGIONS + 2);
    CHECK(dsm_start(d, err, sizeof(err)) == -EINVAL && strstr(err, "no memory region"),
          "start without a region: '%s'", err);
    dsm_destroy(d);

    d = one_node();
    if (!d) {
        return;
    }
    CHECK(dsm_set_policy(d, m, DSM_PAGE_SIZE, DSM_POLICY_WRITE_UPDATE) == -EINVAL,
          "policy before any region");
    CHECK(dsm_add_region(d, NULL, DSM_PAGE_SIZE) == -EINVAL, "NULL region");
    CHECK(dsm_add_region(d, m, 0) == -EINVAL, "empty region");
    CHECK(dsm_add_region(d, m + 1, DSM_PAGE_SIZE) == -EINVAL, "unaligned base");
    CHECK(dsm_add_region(d, m, DSM_PAGE_SIZE + 1) == -EINVAL, "unaligned size");
    CHECK(dsm_add_region_home(d, m, DSM_PAGE_SIZE, 1) == -EINVAL, "home out of range");
    CHECK(dsm_add_region_home(d, m, DSM_PAGE_SIZE, -2) == -EINVAL, "negative home");
    CHECK(dsm_add_region(d, m, 2 * DSM_PAGE_SIZE) == 0, "region of 2 pages");
    CHECK(dsm_add_region(d, m + DSM_PAGE_SIZE, DSM_PAGE_SIZE) == -EINVAL, "overlap");
    for (int i = 1; i < DSM_MAX_REGIONS; i++) {
        CHECK(dsm_add_region_home(d, m + (size_t)(i + 1) * DSM_PAGE_SIZE, DSM_PAGE_SIZE, 0) == 0,
              "region %d", i);
    }
    CHECK(dsm_add_region(d, m + (size_t)(DSM_MAX_REGIONS + 1) * DSM_PAGE_SIZE,
                         DSM_PAGE_SIZE) == -ENOSPC, "one region too many");
    CHECK(dsm_set_policy(d, m, 0, DSM_POLICY_WRITE_UPDATE) == -EINVAL, "policy: len 0");
    CHECK(dsm_set_policy(d, m, DSM_PAGE_SIZE, (enum dsm_policy)9) == -EINVAL,
          "policy: unknown policy");
    CHECK(dsm_set_policy(d, elsewhere, DSM_PAGE_SIZE, DSM_POLICY_WRITE_UPDATE) == -EINVAL,
          "policy: outside the regions");
    CHECK(dsm_set_policy(d, m + (size_t)DSM_MAX_REGIONS * DSM_PAGE_SIZE, 2 * DSM_PAGE_SIZE,
                         DSM_POLICY_WRITE_UPDATE) == -EINVAL, "policy: past the last region");
    CHECK(dsm_write_update(d, m, &v, sizeof(v)) == -ENOTCONN, "write_update before start");
    CHECK(dsm_write_update(d, elsewhere, &v, sizeof(v)) == -EINVAL,
          "write_update outside the regions (before start)");
    CHECK(dsm_barrier(d, 100) == -ENOTCONN, "barrier before start");
    CHECK(dsm_send_app(d, 0, buf, 1) == -EINVAL, "send_app to self (one node)");
    CHECK(dsm_send_app(d, 1, buf, 1) == -EINVAL, "send_app to node 1 of 1");
    CHECK(dsm_page_counts(d, elsewhere, &pc) == -EINVAL, "page_counts outside");
    CHECK(dsm_page_counts(d, m + DSM_PAGE_SIZE, &pc) == 0 && pc.addr == m + DSM_PAGE_SIZE,
          "page_counts inside");

    /* started */
    CHECK(dsm_start(d, err, sizeof(err)) == 0, "dsm_start: %s", err);
    CHECK(dsm_start(d, err, sizeof(err)) == -EBUSY, "second dsm_start: '%s'", err);
    CHECK(dsm_add_region(d, m + (size_t)(DSM_MAX_REGIONS + 1) * DSM_PAGE_SIZE,
                         DSM_PAGE_SIZE) == -EBUSY, "add_region after start");
    CHECK(dsm_write_update(d, elsewhere, &v, sizeof(v)) == -EINVAL,
          "write_update on an unregistered address");
    CHECK(dsm_write_update(d, m, &v, 0) == -EINVAL, "write_update of 0 bytes");
    CHECK(dsm_write_update(d, m, NULL, 8) == -EINVAL, "write_update from NULL");
    /* region 0 ends after 2 pages; the next region is elsewhere in m */
    CHECK(dsm_write_update(d, m + (size_t)(DSM_MAX_REGIONS + 1) * DSM_PAGE_SIZE - 4, &v,
                           sizeof(v)) == -EINVAL, "write_update past the last region");
    CHECK(dsm_write_update(d, m + 8, &v, sizeof(v)) == 0 && !memcmp(m + 8, &v, sizeof(v)),
          "write_update inside");
    CHECK(dsm_barrier(d, 100) == 0, "barrier of one");
    errno = 0;
    int rc = dsm_set_policy(d, elsewhere, DSM_PAGE_SIZE, DSM_POLICY_WRITE_UPDATE);
    CHECK(rc == -EINVAL && errno == EINVAL, "errno mirrors the result: %d, errno %d", rc, errno);
    dsm_stop(d);
    CHECK(dsm_barrier(d, 100) == -ENOTCONN, "barrier after stop");
    CHECK(dsm_write_update(d, m + 8, &v, sizeof(v)) == -ENOTCONN, "write_update after stop");
    dsm_destroy(d);
    munmap(m, (DSM_MAX_REGIONS + 2) * DSM_PAGE_SIZE);
}

/* Node 1 of 2 whose node 0 is `addr0`; dsm_start's result and message. */
static int start_node1(const char *addr0, int connect_ms, char *err, size_t errlen)
{
    int port1;
    int lfd = listen_loopback(&port1);
    struct dsm_config cfg;
    dsm_config_init(&cfg);
    cfg.node_id = 1;
    cfg.num_nodes = 2;
    cfg.transport = DSM_TRANSPORT_TCP;
    const char *addrs[2] = { addr0, "127.0.0.1:1" };
    cfg.tcp_addrs = addrs;
    cfg.tcp_listen_fd = lfd;
    cfg.secret = "k";
    cfg.secret_len = 1;
    cfg.connect_timeout_ms = connect_ms;
    struct dsm_callbacks cb = { .log = quiet_log };
    struct dsm *d = dsm_create(&cfg, &cb, err, errlen);
    if (!d) {
        return -errno;
    }
    uint8_t *mem = map_pages(ROGUE_MEM / DSM_PAGE_SIZE);
    dsm_add_region(d, mem, ROGUE_MEM);
    int rc = dsm_start(d, err, errlen);
    dsm_destroy(d);
    munmap(mem, ROGUE_MEM);
    return rc;
}

/* Node 0 that accepts one connection and answers with another secret. */
static void *other_secret_main(void *arg)
{
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    struct dsm_hs_params p;
    memset(&p, 0, sizeof(p));
    p.self = 0;
    p.num_nodes = 2;
    p.nregions = 1;
    p.region_sizes[0] = ROGUE_MEM;
    p.secret = "other";
    p.secret_len = 5;
    struct dsm_hs_io io = { .opaque = &fd, .send = sock_send, .recv = sock_recv };
    char err[256];
    dsm_handshake(&p, &io, -1, err, sizeof(err));
    close(fd);
    return NULL;
}

static void test_errors_cluster(void)
{
    char err[256], addr[64];
    uint8_t buf[16] = "hello";

    /* dsm_start: nobody at node 0's address within the connect timeout */
    int port0;
    int lfd = listen_loopback(&port0);
    close(lfd);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port0);
    int rc = start_node1(addr, 300, err, sizeof(err));
    CHECK(rc == -ETIMEDOUT && strstr(err, "within"), "start, node 0 absent: %d '%s'", rc, err);
    rc = start_node1("no-port", 300, err, sizeof(err));
    CHECK(rc == -EINVAL && strstr(err, "bad address"), "start, bad address: %d '%s'", rc, err);

    /* dsm_start: node 0 knows another secret */
    lfd = listen_loopback(&port0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port0);
    pthread_t t;
    pthread_create(&t, NULL, other_secret_main, &lfd);
    rc = start_node1(addr, 3000, err, sizeof(err));
    pthread_join(t, NULL);
    close(lfd);
    CHECK(rc == -ECONNREFUSED && strstr(err, "secret"), "start, other secret: %d '%s'", rc, err);

    /* started, node 1 silent */
    struct rogue r = { .silent = 1 };
    uint8_t *mem;
    struct dsm *d = start_with_rogue("silent peer", &r, &t, &mem);
    CHECK(dsm_send_app(d, -1, buf, 1) == -EINVAL, "send_app to node -1");
    CHECK(dsm_send_app(d, 2, buf, 1) == -EINVAL, "send_app to node 2 of 2");
    CHECK(dsm_send_app(d, 0, buf, 1) == -EINVAL, "send_app to self");
    CHECK(dsm_send_app(d, 1, buf, 0) == -EINVAL, "send_app of 0 bytes");
    CHECK(dsm_send_app(d, 1, NULL, 1) == -EINVAL, "send_app from NULL");
    CHECK(dsm_send_app(d, 1, buf, DSM_APP_MSG_MAX + 1) == -EINVAL, "send_app too long");
    CHECK(dsm_send_app(d, 1, buf, sizeof(buf)) == 0, "send_app to the peer");
    /* node 0 coordinates; node 1 never arrives */
    rc = dsm_barrier(d, 100);
    CHECK(rc == -ETIMEDOUT, "barrier without the peer: %d", rc);

    /* the peer goes away: calls that need it fail with -EPIPE */
    atomic_store(&r.release, 1);
    wait_rogue_reported(&r);
    CHECK(atomic_load(&r.failed_node) == 1, "silent peer's exit reported (%d)",
          atomic_load(&r.failed_node));
    CHECK(dsm_failed_nodes(d) == 2, "failed nodes 0x%llx", (unsigned long long)dsm_failed_nodes(d));
    CHECK(dsm_send_app(d, 1, buf, sizeof(buf)) == -EPIPE, "send_app to a failed node");
    rc = dsm_barrier(d, 1000);
    CHECK(rc == -EPIPE, "barrier with a failed node: %d", rc);
    uint64_t v = 5;
    rc = dsm_write_update(d, mem + DSM_PAGE_SIZE, &v, sizeof(v));   /* managed by node 1 */
    CHECK(rc == -EPIPE, "write_update of a page the failed node manages: %d", rc);
    pthread_join(t, NULL);
    dsm_destroy(d);
    munmap(mem, ROGUE_MEM);
}

/* ---- fuzzer seeds ------------------------------------------------------------ */

static int write_corpus(const char *dir)
{
    mkdir(dir, 0755);
    struct { unsigned type; uint64_t page, arg; uint32_t flags, len; } m[] = {
        { DSM_MSG_READ_REQ, 1, 0, 0, 0 }, { DSM_MSG_WRITE_REQ, 5, 0, 0, 0 },
        { DSM_MSG_FWD_READ, 2, 3, 0, 0 }, { DSM_MSG_FWD_WRITE, 2, 3, DSM_PF_NODATA, 0 },
        { DSM_MSG_PAGE, 7, 0, DSM_PF_SHARED, 4096 },
        { DSM_MSG_PAGE, 7, 0, DSM_PF_EXCL | DSM_PF_ZERO, 0 },
        { DSM_MSG_DONE, 1, 0, 0, 0 }, { DSM_MSG_INV, 2, 0, 0, 0 }, { DSM_MSG_INV_ACK, 1, 0, 0, 0 },
        { DSM_MSG_WU_REQ, 1, 100, 0, 16 }, { DSM_MSG_FETCH_REPLY, 1, 0, 0, 4096 },
        { DSM_MSG_WU_PAGE, 2, 0, 0, 4096 }, { DSM_MSG_APP, 0, 0, 0, 100 },
        { DSM_MSG_BARRIER_GO, 0, 3, 0, 0 }, { DSM_MSG_BYE, 0, 0, 0, 0 },
    };
    static uint8_t buf[(sizeof(struct dsm_msg_hdr) + 4096) * 3 + 2];
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        /* byte 0: self node, byte 1: node count; then two frames back to back */
        buf[0] = 1;
        buf[1] = 4;
        size_t off = 2;
        for (int rep = 0; rep < 2; rep++) {
            struct dsm_msg_hdr h;
            dsm_msg_init(&h, m[i].type, 2, m[i].page, m[i].arg, m[i].flags, m[i].len);
            memcpy(buf + off, &h, sizeof(h));
            memset(buf + off + sizeof(h), 0x5a, m[i].len);
            off += sizeof(h) + m[i].len;
        }
        char path[512];
        snprintf(path, sizeof(path), "%s/seed-%02zu-%s", dir, i, dsm_msg_type_name(m[i].type));
        FILE *f = fopen(path, "wb");
        if (!f) {
            perror(path);
            return 1;
        }
        fwrite(buf, 1, off, f);
        fclose(f);
    }
    struct dsm_hs_params p;
    params(&p, 1, "x");
    struct dsm_hello hello;
    dsm_hello_build(&p, &hello);
    char path[512];
    snprintf(path, sizeof(path), "%s/seed-hello", dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        uint8_t hdr[2] = { 0, 3 };
        fwrite(hdr, 1, 2, f);
        fwrite(&hello, 1, sizeof(hello), f);
        fclose(f);
    }
    return 0;
}

/* Scripts for fuzz-state: 'F' page is_write = local fault; 'M' + frame. */
struct script {
    uint8_t buf[65536];
    size_t len;
};

static void s_fault(struct script *s, int page, int is_write)
{
    s->buf[s->len++] = 'F';
    s->buf[s->len++] = (uint8_t)page;
    s->buf[s->len++] = (uint8_t)is_write;
}

static void s_frame(struct script *s, unsigned type, int src, uint64_t page, uint64_t arg,
                    uint32_t flags, uint32_t len)
{
    struct dsm_msg_hdr h;
    dsm_msg_init(&h, type, src, page, arg, flags, len);
    s->buf[s->len++] = 'M';
    memcpy(s->buf + s->len, &h, sizeof(h));
    s->len += sizeof(h);
    memset(s->buf + s->len, 0x42, len);
    s->len += len;
}

static int s_write(const char *dir, const char *name, const struct script *s)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    fwrite(s->buf, 1, s->len, f);
    fclose(f);
    return 0;
}

static int write_state_corpus(const char *dir)
{
    static struct script s;
    int rc = 0;
    mkdir(dir, 0755);
    /* node 0 of 2: pages with an odd index are managed by node 1 */
    s.len = 0;
    s.buf[s.len++] = 0;   /* 2 nodes */
    s.buf[s.len++] = 0;   /* self 0 */
    s_fault(&s, 1, 0);
    s_frame(&s, DSM_MSG_PAGE, 1, 1, 0, DSM_PF_SHARED | DSM_PF_REMOTE, 4096);
    s_frame(&s, DSM_MSG_INV, 1, 1, 0, 0, 0);
    s_fault(&s, 1, 1);
    s_frame(&s, DSM_MSG_PAGE, 1, 1, 0, DSM_PF_EXCL | DSM_PF_REMOTE, 4096);
    s_frame(&s, DSM_MSG_FWD_READ, 1, 1, 1, 0, 0);
    s_frame(&s, DSM_MSG_FWD_WRITE, 1, 1, 1, DSM_PF_NODATA, 0);
    s_fault(&s, 3, 1);
    s_frame(&s, DSM_MSG_PAGE, 1, 3, 0, DSM_PF_EXCL | DSM_PF_ZERO, 0);
    s_frame(&s, DSM_MSG_FETCH, 1, 3, 0, 0, 0);
    s_frame(&s, DSM_MSG_WU_PAGE, 1, 3, 0, 0, 4096);
    rc |= s_write(dir, "requester", &s);

    /* node 0 as manager of even pages */
    s.len = 2;
    s_frame(&s, DSM_MSG_READ_REQ, 1, 0, 0, 0, 0);
    s_frame(&s, DSM_MSG_DONE, 1, 0, 0, 0, 0);
    s_frame(&s, DSM_MSG_WRITE_REQ, 1, 2, 0, 0, 0);
    s_frame(&s, DSM_MSG_DONE, 1, 2, 0, 0, 0);
    s_fault(&s, 2, 0);
    s_frame(&s, DSM_MSG_PAGE, 1, 2, 0, DSM_PF_SHARED | DSM_PF_REMOTE, 4096);
    s_frame(&s, DSM_MSG_WRITE_REQ, 1, 2, 0, 0, 0);   /* our copy is invalidated locally */
    s_frame(&s, DSM_MSG_DONE, 1, 2, 0, 0, 0);
    s_frame(&s, DSM_MSG_WU_REQ, 1, 2, 8, 0, 8);
    s_frame(&s, DSM_MSG_FETCH_REPLY, 1, 2, 0, 0, 4096);
    s_frame(&s, DSM_MSG_WU_ACK, 1, 2, 0, 0, 0);
    s_frame(&s, DSM_MSG_WU_REQ, 1, 4, 0, 0, 100);
    s_frame(&s, DSM_MSG_WU_ACK, 1, 4, 0, 0, 0);
    s_frame(&s, DSM_MSG_BARRIER, 1, 0, 1, 0, 0);
    s_frame(&s, DSM_MSG_APP, 1, 0, 0, 0, 10);
    s_frame(&s, DSM_MSG_BYE, 1, 0, 0, 0, 0);
    rc |= s_write(dir, "manager", &s);

    /* 3 nodes, node 1: forwards and invalidations with a third party */
    s.len = 0;
    s.buf[s.len++] = 1;
    s.buf[s.len++] = 1;
    s_fault(&s, 0, 1);
    s_frame(&s, DSM_MSG_PAGE, 0, 0, 0, DSM_PF_EXCL | DSM_PF_ZERO, 0);
    s_frame(&s, DSM_MSG_FWD_READ, 0, 0, 2, 0, 0);
    s_frame(&s, DSM_MSG_READ_REQ, 2, 1, 0, 0, 0);
    s_frame(&s, DSM_MSG_DONE, 2, 1, 0, 0, 0);
    s_frame(&s, DSM_MSG_WRITE_REQ, 0, 1, 0, 0, 0);
    s_frame(&s, DSM_MSG_INV_ACK, 2, 1, 0, 0, 0);
    s_frame(&s, DSM_MSG_DONE, 0, 1, 0, 0, 0);
    rc |= s_write(dir, "three", &s);
    return rc;
}

/* transport = rdma: validated at create; one node needs no device; with
 * peers and no RDMA device (this machine has none unless rdma_rxe or a NIC
 * is there) dsm_start() fails with -ENODEV and a clear message. */
/* "host:port" addresses, shared by the TCP and RDMA transports */
static void test_resolve_addr(void)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char err[256] = "";
    int rc = dsm_resolve_addr("127.0.0.1:5000", &ss, &len, err, sizeof(err));
    CHECK(rc == 0 && ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in) &&
          ntohs(((struct sockaddr_in *)&ss)->sin_port) == 5000, "ipv4: %d '%s'", rc, err);
    rc = dsm_resolve_addr("[::1]:5001", &ss, &len, err, sizeof(err));
    CHECK(rc == 0 && ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6) &&
          ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 5001, "[ipv6]: %d '%s'", rc, err);
    rc = dsm_resolve_addr("::1:5002", &ss, NULL, err, sizeof(err));
    CHECK(rc == 0 && ss.ss_family == AF_INET6 &&
          ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 5002, "bare ipv6: %d '%s'", rc, err);
    static const char *const bad[] = { "no-port", ":5000", "127.0.0.1:", NULL };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        rc = dsm_resolve_addr(bad[i], &ss, &len, err, sizeof(err));
        CHECK(rc == -EINVAL && strstr(err, "bad address '") && strstr(err, "(want host:port)"),
              "'%s': %d '%s'", bad[i] ? bad[i] : "(null)", rc, err);
    }
    rc = dsm_resolve_addr("127.0.0.1:no-such-service", &ss, &len, err, sizeof(err));
    CHECK(rc == -EINVAL && strstr(err, "cannot resolve '127.0.0.1:no-such-service': "),
          "unknown port name: %d '%s'", rc, err);
}

static void test_rdma_config(void)
{
    char err[256] = "";
    struct dsm_config cfg;
    dsm_config_init(&cfg);
    cfg.transport = DSM_TRANSPORT_RDMA;
    cfg.num_nodes = 1;
    struct dsm_callbacks cb = { .log = quiet_log };
    struct dsm *d = dsm_create(&cfg, &cb, err, sizeof(err));
    uint8_t *mem = map_pages(4);
    CHECK(d && dsm_add_region(d, mem, 4 * DSM_PAGE_SIZE) == 0 &&
          dsm_start(d, err, sizeof(err)) == 0, "rdma, one node: %s", err);
    dsm_destroy(d);
    munmap(mem, 4 * DSM_PAGE_SIZE);

    const char *addrs[2] = { "127.0.0.1:1", "127.0.0.1:2" };
    cfg.num_nodes = 2;
    cfg.rdma_addrs = addrs;
    cfg.connect_timeout_ms = 500;
    d = dsm_create(&cfg, &cb, err, sizeof(err));
    CHECK(d != NULL, "rdma, two nodes: dsm_create: %s", err);
    struct stat st;
    int have_device = stat("/sys/class/infiniband", &st) == 0;
    if (d && !have_device) {
        mem = map_pages(4);
        dsm_add_region(d, mem, 4 * DSM_PAGE_SIZE);
        int rc = dsm_start(d, err, sizeof(err));
        CHECK(rc == -ENODEV && strstr(err, "no RDMA device found (rdma_cm: "),
              "rdma without a device: %d '%s'", rc, err);
        munmap(mem, 4 * DSM_PAGE_SIZE);
    }
    dsm_destroy(d);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-corpus")) {
        return write_corpus(argv[2]);
    }
    if (argc == 3 && !strcmp(argv[1], "--write-state-corpus")) {
        return write_state_corpus(argv[2]);
    }
    test_sha256();
    test_hmac();
    test_proto();
    test_homes();
    test_hello_check();
    test_handshake();
    test_rdma_frames();
    test_rdma_credits();
    test_rdma_config();
    test_resolve_addr();
    test_single_node();
    test_errors_create();
    test_errors_one_node();
    test_errors_cluster();
    test_rogue_peer();
    printf("dsm: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
