/* test-node.c - one node of a multi-process DSM test (started by dsm-testdrv).
 *
 * Tests (--test):
 *   mixed     last-writer-wins words, atomic counters, message passing,
 *             application messages, write-update pages
 *   resident  node 0 writes everything, node 1 half: residency follows
 *   failure   the last node holds pages and gets SIGKILLed by the driver
 * Exit status: 0 pass, 1 failure found, 3 dsm_start failed, 42 a peer
 * failed (callback).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dsm.h"

#define EXIT_PEER_FAILED 42
#define EXIT_START_FAILED 3
#define PAGE DSM_PAGE_SIZE
#define WORDS_PER_PAGE (PAGE / sizeof(uint64_t))

static struct {
    int node, nodes, threads;
    const char *test;
    const char *transport;
    char *addrs;
    int listen_fd;
    const char *shm_name;
    int ready_fd;
    int verbose;
    int default_handler;   /* leave peer_failed unset: library default (exit 1) */
    int homed;             /* region i managed by node i % n instead of interleaved */
    unsigned read_ahead;   /* dsm_config.read_ahead_pages */
    int exclusive_reads;   /* dsm_config.exclusive_reads */
    const char *secret;
    int connect_timeout_ms;
} opt = { .threads = 2, .listen_fd = -1, .ready_fd = -1, .secret = "test-secret",
          .connect_timeout_ms = 20000 };

static struct dsm *g_dsm;
static atomic_int g_failures;
static atomic_ulong g_pages_replaced;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "node %d: FAIL: %s\n", opt.node, buf);
    if (atomic_fetch_add(&g_failures, 1) > 20) {
        exit(1);
    }
}

#define CHECK(cond, ...) do { if (!(cond)) fail(__VA_ARGS__); } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void barrier(void)
{
    int rc = dsm_barrier(g_dsm, 60000);
    if (rc < 0) {
        fprintf(stderr, "node %d: FAIL: barrier: %s\n", opt.node, strerror(-rc));
        exit(1);
    }
}

/* ---- callbacks -------------------------------------------------------- */

static void on_peer_failed(void *opaque, int node, const char *reason)
{
    (void)opaque;
    fprintf(stderr, "node %d: peer node %d failed: %s\n", opt.node, node, reason);
    fflush(stderr);
    _exit(EXIT_PEER_FAILED);
}

static void on_page_replaced(void *opaque, void *addr, size_t len)
{
    (void)opaque; (void)addr; (void)len;
    atomic_fetch_add(&g_pages_replaced, 1);
}

#define APP_MSGS 40
static atomic_int app_count[DSM_MAX_NODES];
static atomic_int app_bad;

static size_t app_len(int i)
{
    return i == 0 ? DSM_APP_MSG_MAX : 1 + ((size_t)i * 7919u) % 9000u;
}

static uint8_t app_byte(int src, int i, size_t k)
{
    return (uint8_t)(src * 31 + i * 7 + k);
}

#define FLOOD_LEN 60000
static atomic_int flood_count[DSM_MAX_NODES];

static void on_app(void *opaque, int src, const void *buf, size_t len)
{
    (void)opaque;
    const uint8_t *b = buf;
    if (len == FLOOD_LEN) {
        if (b[0] != (uint8_t)src || b[len - 1] != (uint8_t)(src + 1)) {
            atomic_fetch_add(&app_bad, 1);
        }
        atomic_fetch_add(&flood_count[src], 1);
        return;
    }
    int i = atomic_load(&app_count[src]);
    if (len != app_len(i)) {
        atomic_fetch_add(&app_bad, 1);
    } else {
        for (size_t k = 0; k < len; k++) {
            if (b[k] != app_byte(src, i, k)) {
                atomic_fetch_add(&app_bad, 1);
                break;
            }
        }
    }
    atomic_fetch_add(&app_count[src], 1);
}

/* ---- per-node thread team -------------------------------------------- */

struct team {
    pthread_barrier_t local;
    void (*fn)(int tid);
};

static struct team team;

static void *team_main(void *arg)
{
    team.fn((int)(intptr_t)arg);
    return NULL;
}

static void run_team(void (*fn)(int))
{
    pthread_t th[64];
    team.fn = fn;
    for (int t = 0; t < opt.threads; t++) {
        pthread_create(&th[t], NULL, team_main, (void *)(intptr_t)t);
    }
    for (int t = 0; t < opt.threads; t++) {
        pthread_join(th[t], NULL);
    }
}

/* All threads of all nodes meet. */
static void team_barrier(int tid)
{
    pthread_barrier_wait(&team.local);
    if (tid == 0) {
        barrier();
    }
    pthread_barrier_wait(&team.local);
}

/* ---- mixed test: last writer wins --------------------------------------- */

static _Atomic uint64_t *lw_words;
static size_t lw_nwords;
static int lw_rounds;

static unsigned writer_of(size_t w, int round)
{
    uint64_t x = (uint64_t)w * 0x9e3779b97f4a7c15ull + (uint64_t)round * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    return (unsigned)(x % (uint64_t)opt.nodes);
}

static uint64_t lw_value(int round, unsigned node, size_t w)
{
    return ((uint64_t)(round + 1) << 48) | ((uint64_t)node << 40) | (uint64_t)w;
}

static void lastwriter_thread(int tid)
{
    unsigned seed = (unsigned)(opt.node * 100 + tid);
    for (int r = 0; r < lw_rounds; r++) {
        for (size_t w = 0; w < lw_nwords; w++) {
            if ((w / 16) % (size_t)opt.threads != (size_t)tid ||
                writer_of(w, r) != (unsigned)opt.node) {
                continue;
            }
            atomic_store_explicit(&lw_words[w], lw_value(r, (unsigned)opt.node, w),
                                  memory_order_relaxed);
            /* concurrent readers: any word must hold a value some writer wrote */
            if ((w & 7) == 0) {
                size_t o = (size_t)rand_r(&seed) % lw_nwords;
                uint64_t v = atomic_load_explicit(&lw_words[o], memory_order_relaxed);
                if (v) {
                    int vr = (int)(v >> 48) - 1;
                    unsigned vn = (unsigned)((v >> 40) & 0xff);
                    CHECK((v & 0xffffffffffull) == o && vr >= 0 && vr <= r &&
                          writer_of(o, vr) == vn,
                          "word %zu holds garbage %#llx in round %d", o, (unsigned long long)v, r);
                }
            }
        }
        team_barrier(tid);
        /* everyone verifies a slice of everything after every round */
        for (size_t w = (size_t)tid; w < lw_nwords; w += (size_t)opt.threads) {
            uint64_t v = atomic_load_explicit(&lw_words[w], memory_order_relaxed);
            uint64_t want = lw_value(r, writer_of(w, r), w);
            CHECK(v == want, "round %d word %zu = %#llx, want %#llx (last writer node %u)", r, w,
                  (unsigned long long)v, (unsigned long long)want, writer_of(w, r));
        }
        team_barrier(tid);
    }
}

/* ---- mixed test: atomic counters ---------------------------------------- */

#define NCOUNTERS 4
static _Atomic uint64_t *counters[NCOUNTERS];
static int atomic_iters;

static void atomic_thread(int tid)
{
    (void)tid;
    for (int i = 0; i < atomic_iters; i++) {
        atomic_fetch_add(counters[i % NCOUNTERS], 1);
    }
    team_barrier(tid);
    if (tid == 0) {
        uint64_t want = (uint64_t)opt.nodes * (uint64_t)opt.threads * (uint64_t)atomic_iters /
                        NCOUNTERS;
        for (int c = 0; c < NCOUNTERS; c++) {
            uint64_t v = atomic_load(counters[c]);
            CHECK(v == want, "counter %d = %llu, want %llu", c, (unsigned long long)v,
                  (unsigned long long)want);
        }
    }
}

/* ---- mixed test: message passing (data, then flag) ---------------------- */

struct channel {
    uint64_t *data;           /* its own page */
    _Atomic uint64_t *flag;   /* another page */
    _Atomic uint64_t *ack;    /* same page as flag, other cache line */
};

static struct channel *channels;
static int mp_iters;

static void spin_until(_Atomic uint64_t *p, uint64_t v)
{
    double deadline = now_s() + 60;
    while (atomic_load_explicit(p, memory_order_acquire) != v) {
        sched_yield();
        if (now_s() > deadline) {
            fail("timed out waiting for %llu", (unsigned long long)v);
            exit(1);
        }
    }
}

static void msgpass_run(void)
{
    struct channel *out = &channels[opt.node];
    struct channel *in = &channels[(opt.node + opt.nodes - 1) % opt.nodes];
    for (int i = 1; i <= mp_iters; i++) {
        /* produce on my channel */
        spin_until(out->ack, (uint64_t)(i - 1));
        for (int j = 0; j < 64; j++) {
            out->data[j * 8] = (uint64_t)i * 1000 + (uint64_t)j;
        }
        atomic_store_explicit(out->flag, (uint64_t)i, memory_order_release);
        /* consume from my predecessor */
        spin_until(in->flag, (uint64_t)i);
        for (int j = 0; j < 64; j++) {
            uint64_t v = in->data[j * 8];
            CHECK(v == (uint64_t)i * 1000 + (uint64_t)j,
                  "message %d: flag seen but data word %d = %llu", i, j, (unsigned long long)v);
        }
        atomic_store_explicit(in->ack, (uint64_t)i, memory_order_release);
    }
}

/* ---- mixed test: application messages ----------------------------------- */

static void app_run(void)
{
    static uint8_t buf[DSM_APP_MSG_MAX];
    for (int i = 0; i < APP_MSGS; i++) {
        for (int dst = 0; dst < opt.nodes; dst++) {
            if (dst == opt.node) {
                continue;
            }
            size_t len = app_len(i);
            for (size_t k = 0; k < len; k++) {
                buf[k] = app_byte(opt.node, i, k);
            }
            CHECK(dsm_send_app(g_dsm, dst, buf, len) == 0, "dsm_send_app to %d", dst);
        }
    }
    double deadline = now_s() + 30;
    for (int src = 0; src < opt.nodes; src++) {
        while (src != opt.node && atomic_load(&app_count[src]) < APP_MSGS && now_s() < deadline) {
            usleep(1000);
        }
        if (src != opt.node) {
            CHECK(atomic_load(&app_count[src]) == APP_MSGS, "%d app messages from %d, want %d",
                  atomic_load(&app_count[src]), src, APP_MSGS);
        }
    }
    CHECK(atomic_load(&app_bad) == 0, "%d corrupted app messages", atomic_load(&app_bad));
    CHECK(dsm_send_app(g_dsm, opt.node, buf, 1) == -EINVAL, "sending to self must be refused");
    CHECK(dsm_send_app(g_dsm, (opt.node + 1) % opt.nodes, buf, DSM_APP_MSG_MAX + 1) == -EINVAL,
          "oversized app message must be refused");
}

/* ---- mixed test: application flood while pages move ----------------------- */

static int flood_msgs;

static void flood_thread(int tid)
{
    if (tid == 0) {
        /* all nodes flood each other at once: protocol replies must still flow */
        static uint8_t buf[FLOOD_LEN];
        buf[0] = (uint8_t)opt.node;
        buf[FLOOD_LEN - 1] = (uint8_t)(opt.node + 1);
        for (int i = 0; i < flood_msgs; i++) {
            for (int dst = 0; dst < opt.nodes; dst++) {
                if (dst != opt.node) {
                    CHECK(dsm_send_app(g_dsm, dst, buf, FLOOD_LEN) == 0, "flood to %d", dst);
                }
            }
        }
    } else {
        for (int i = 0; i < atomic_iters / 4; i++) {
            atomic_fetch_add(counters[i % NCOUNTERS], 1);
        }
    }
    team_barrier(tid);
    if (tid == 0) {
        double deadline = now_s() + 60;
        for (int src = 0; src < opt.nodes; src++) {
            while (src != opt.node && atomic_load(&flood_count[src]) < flood_msgs &&
                   now_s() < deadline) {
                usleep(1000);
            }
            CHECK(src == opt.node || atomic_load(&flood_count[src]) == flood_msgs,
                  "%d flood messages from %d, want %d", atomic_load(&flood_count[src]), src,
                  flood_msgs);
        }
        CHECK(atomic_load(&app_bad) == 0, "corrupted flood messages");
    }
}

/* ---- mixed test: write-update pages -------------------------------------- */

#define WU_ROUNDS 40
static _Atomic uint64_t *wu_words;   /* word 16*k belongs to node k */

/* Thread 0 publishes its node's counter through write-updates while the
 * other threads keep reading everybody's: values never go backwards. */
static void wu_concurrent_thread(int tid)
{
    if (tid == 0) {
        for (uint64_t v = 1; v <= WU_ROUNDS; v++) {
            CHECK(dsm_write_update(g_dsm, (void *)&wu_words[16 * opt.node], &v, sizeof(v)) == 0,
                  "write_update %llu", (unsigned long long)v);
        }
    } else {
        uint64_t last[DSM_MAX_NODES] = { 0 };
        for (int it = 0; it < 20000; it++) {
            int k = it % opt.nodes;
            uint64_t v = atomic_load(&wu_words[16 * k]);
            CHECK(v >= last[k] && v <= WU_ROUNDS, "wu word of node %d went %llu -> %llu", k,
                  (unsigned long long)last[k], (unsigned long long)v);
            last[k] = v;
            if ((it & 255) == 0) {
                sched_yield();
            }
        }
    }
    team_barrier(tid);
    for (int k = 0; k < opt.nodes; k++) {
        CHECK(atomic_load(&wu_words[16 * k]) == WU_ROUNDS, "final wu word of node %d = %llu", k,
              (unsigned long long)atomic_load(&wu_words[16 * k]));
    }
}

static void wu_run(uint8_t *wu_page)
{
    _Atomic uint64_t *w = (_Atomic uint64_t *)wu_page;
    struct dsm_stats s0, s1;
    CHECK(dsm_set_policy(g_dsm, wu_page, 2 * PAGE, DSM_POLICY_WRITE_UPDATE) == 0, "set_policy");
    dsm_get_stats(g_dsm, &s0);
    unsigned long replaced0 = atomic_load(&g_pages_replaced);
    barrier();
    /* every node updates its own word; the managers serialise them */
    uint64_t v = 100 + (uint64_t)opt.node;
    CHECK(dsm_write_update(g_dsm, (void *)&w[opt.node], &v, sizeof(v)) == 0, "write_update");
    barrier();
    for (int k = 0; k < opt.nodes; k++) {
        CHECK(atomic_load(&w[k]) == 100 + (uint64_t)k, "wu word %d = %llu", k,
              (unsigned long long)atomic_load(&w[k]));
    }
    /* an update spanning two pages */
    if (opt.node == 0) {
        uint64_t two[2] = { 0xaaaa, 0xbbbb };
        CHECK(dsm_write_update(g_dsm, wu_page + PAGE - 8, two, sizeof(two)) == 0, "wu span");
    }
    barrier();
    CHECK(atomic_load(&w[WORDS_PER_PAGE - 1]) == 0xaaaa &&
          atomic_load(&w[WORDS_PER_PAGE]) == 0xbbbb, "write-update across pages");
    dsm_get_stats(g_dsm, &s1);
    CHECK(s1.wu_pages_replaced > s0.wu_pages_replaced, "no write-update install counted");
    CHECK(atomic_load(&g_pages_replaced) > replaced0, "page_replaced callback not called");
    barrier();
    /* a plain store into a write-update page must stay coherent */
    if (opt.node == opt.nodes - 1) {
        atomic_store(&w[100], 777);
        dsm_get_stats(g_dsm, &s1);
        CHECK(s1.wu_fallbacks > s0.wu_fallbacks, "plain store not counted as wu fallback");
    }
    barrier();
    CHECK(atomic_load(&w[100]) == 777, "plain store into wu page lost: %llu",
          (unsigned long long)atomic_load(&w[100]));
    for (int k = 0; k < opt.nodes; k++) {
        CHECK(atomic_load(&w[k]) == 100 + (uint64_t)k, "wu word %d lost after fallback", k);
    }
    barrier();
    if (opt.node == 0) {
        uint64_t x = 5;
        CHECK(dsm_write_update(g_dsm, (void *)&w[101], &x, sizeof(x)) == 0, "write_update 2");
    }
    barrier();
    CHECK(atomic_load(&w[101]) == 5 && atomic_load(&w[100]) == 777, "wu after fallback");
    barrier();
    wu_words = w + WORDS_PER_PAGE + 8;   /* second write-update page, fresh words */
    run_team(wu_concurrent_thread);
    barrier();
}

/* ---- drivers of each test -------------------------------------------------- */

static int start_dsm(void **regions, size_t *sizes, int nregions)
{
    struct dsm_config cfg;
    char err[512];
    dsm_config_init(&cfg);
    cfg.node_id = opt.node;
    cfg.num_nodes = opt.nodes;
    cfg.secret = opt.secret;
    cfg.secret_len = strlen(opt.secret);
    cfg.connect_timeout_ms = opt.connect_timeout_ms;
    cfg.request_timeout_ms = 30000;
    cfg.log_level = opt.verbose ? DSM_LOG_INFO : DSM_LOG_WARN;
    cfg.read_ahead_pages = opt.read_ahead;
    cfg.exclusive_reads = (unsigned)opt.exclusive_reads;
    const char *addrv[DSM_MAX_NODES];
    if (!strcmp(opt.transport, "tcp") || !strcmp(opt.transport, "rdma")) {
        int n = 0;
        for (char *s = strtok(opt.addrs, ","); s && n < DSM_MAX_NODES; s = strtok(NULL, ",")) {
            addrv[n++] = s;
        }
        if (!strcmp(opt.transport, "tcp")) {
            cfg.transport = DSM_TRANSPORT_TCP;
            cfg.tcp_addrs = addrv;
            cfg.tcp_listen_fd = opt.listen_fd;
        } else {
            cfg.transport = DSM_TRANSPORT_RDMA;
            cfg.rdma_addrs = addrv;
        }
    } else {
        cfg.transport = DSM_TRANSPORT_SHM;
        cfg.shm_name = opt.shm_name;
    }
    struct dsm_callbacks cb = {
        .peer_failed = opt.default_handler ? NULL : on_peer_failed,
        .page_replaced = on_page_replaced,
        .app_message = on_app,
    };
    g_dsm = dsm_create(&cfg, &cb, err, sizeof(err));
    if (!g_dsm) {
        fprintf(stderr, "node %d: dsm_create: %s\n", opt.node, err);
        return -1;
    }
    for (int i = 0; i < nregions; i++) {
        /* --homed: region i is managed by node i % n (as a guest's NUMA memory is) */
        int home = opt.homed ? i % opt.nodes : DSM_HOME_INTERLEAVE;
        int rc = dsm_add_region_home(g_dsm, regions[i], sizes[i], home);
        if (rc < 0) {
            fprintf(stderr, "node %d: dsm_add_region: %s\n", opt.node, strerror(-rc));
            return -1;
        }
    }
    if (dsm_start(g_dsm, err, sizeof(err)) < 0) {
        fprintf(stderr, "node %d: dsm_start: %s\n", opt.node, err);
        exit(EXIT_START_FAILED);
    }
    return 0;
}

static void *map_region(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

static size_t resident_pages(void *base, size_t size)
{
    size_t n = size / PAGE, count = 0;
    unsigned char *vec = malloc(n);
    if (mincore(base, size, vec) < 0) {
        perror("mincore");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        count += vec[i] & 1;
    }
    free(vec);
    return count;
}

static void finish(void)
{
    struct dsm_stats s;
    char buf[4096];
    dsm_get_stats(g_dsm, &s);
    if (opt.verbose) {
        dsm_format_stats(&s, buf, sizeof(buf));
        fprintf(stderr, "node %d stats:\n%s", opt.node, buf);
    }
    dsm_stop(g_dsm);
    dsm_destroy(g_dsm);
}

static int test_mixed(void)
{
    int big = opt.nodes <= 4;
    size_t lw_pages = big ? 16 : 8;
    lw_rounds = big ? 10 : 4;
    atomic_iters = big ? 20000 : 2000;
    mp_iters = big ? 500 : 100;
    flood_msgs = big ? 150 : 20;
    /* region 0: last-writer words; region 1: counters, channels, wu pages */
    size_t size0 = lw_pages * PAGE;
    size_t size1 = (size_t)(2 + 2 * opt.nodes + 2) * PAGE;
    void *regs[2] = { map_region(size0), map_region(size1) };
    size_t sizes[2] = { size0, size1 };
    CHECK(resident_pages(regs[0], size0) == 0, "region resident before start");
    if (start_dsm(regs, sizes, 2) < 0) {
        return 1;
    }
    uint8_t *r1 = regs[1];
    lw_words = regs[0];
    lw_nwords = size0 / sizeof(uint64_t);
    for (int c = 0; c < NCOUNTERS; c++) {
        counters[c] = (_Atomic uint64_t *)(r1 + (size_t)(c / 2) * PAGE + (size_t)(c % 2) * 64);
    }
    channels = calloc((size_t)opt.nodes, sizeof(*channels));
    for (int k = 0; k < opt.nodes; k++) {
        channels[k].data = (uint64_t *)(r1 + (size_t)(2 + 2 * k) * PAGE);
        channels[k].flag = (_Atomic uint64_t *)(r1 + (size_t)(3 + 2 * k) * PAGE);
        channels[k].ack = (_Atomic uint64_t *)(r1 + (size_t)(3 + 2 * k) * PAGE + 128);
    }
    uint8_t *wu_page = r1 + (size_t)(2 + 2 * opt.nodes) * PAGE;
    pthread_barrier_init(&team.local, NULL, (unsigned)opt.threads);

    double t0 = now_s();
    barrier();
    run_team(lastwriter_thread);
    double t1 = now_s();
    run_team(atomic_thread);
    barrier();
    double t2 = now_s();
    msgpass_run();
    barrier();
    double t3 = now_s();
    app_run();
    barrier();
    if (opt.threads > 1) {
        run_team(flood_thread);
    }
    barrier();
    double t4 = now_s();
    wu_run(wu_page);
    double t5 = now_s();
    if (opt.node == 0) {
        fprintf(stderr, "node 0: lastwriter %.2fs atomic %.2fs msgpass %.2fs app %.2fs wu %.2fs\n",
                t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4);
    }
    barrier();
    finish();
    return atomic_load(&g_failures) ? 1 : 0;
}

static int test_resident(void)
{
    size_t npages = 256, size = npages * PAGE;
    void *reg = map_region(size);
    memset(reg, 1, size);                 /* resident before registration... */
    if (start_dsm(&reg, &size, 1) < 0) {
        return 1;
    }
    /* ...but a node holds nothing until it faults pages in */
    CHECK(resident_pages(reg, size) == 0, "%zu pages resident after start, want 0",
          resident_pages(reg, size));
    barrier();
    uint8_t *b = reg;
    if (opt.node == 0) {
        for (size_t i = 0; i < npages; i++) {
            b[i * PAGE] = 0x11;
        }
        CHECK(resident_pages(reg, size) == npages, "node 0 after writing all: %zu resident",
              resident_pages(reg, size));
    }
    barrier();
    if (opt.node == 1) {
        for (size_t i = 0; i < npages / 2; i++) {
            CHECK(b[i * PAGE] == 0x11, "page %zu lost node 0's write", i);
            b[i * PAGE + 1] = 0x22;
        }
    }
    barrier();
    size_t res = resident_pages(reg, size);
    fprintf(stderr, "node %d: %zu of %zu pages resident\n", opt.node, res, npages);
    if (opt.node == 0) {
        CHECK(res >= npages / 2 - npages / 16 && res <= npages / 2 + npages / 16,
              "node 0 holds %zu pages, expected about %zu", res, npages / 2);
    } else if (opt.node == 1) {
        CHECK(res == npages / 2, "node 1 holds %zu pages, expected %zu", res, npages / 2);
    } else {
        CHECK(res == 0, "node %d holds %zu pages, expected 0", opt.node, res);
    }
    barrier();
    finish();
    return atomic_load(&g_failures) ? 1 : 0;
}

/* A region homed on node 0: node 0 holds it all from the start and writes
 * it without one fault; node 1 reads it in order and gets up to 8 pages
 * sent ahead of each fault (read_ahead_pages = 8): at least one fault in 9,
 * and at most one in 4 (the reader lets the pages sent ahead land first). */
static int test_homes(void)
{
    size_t npages = 256, size = npages * PAGE;
    void *reg = map_region(size);
    opt.homed = 1;
    opt.read_ahead = 8;
    if (start_dsm(&reg, &size, 1) < 0) {
        return 1;
    }
    size_t res = resident_pages(reg, size);
    CHECK(res == (opt.node == 0 ? npages : 0), "node %d: %zu pages resident after start",
          opt.node, res);
    barrier();
    uint8_t *b = reg;
    struct dsm_stats s0, s1;
    dsm_get_stats(g_dsm, &s0);
    if (opt.node == 0) {
        for (size_t i = 0; i < npages; i++) {
            b[i * PAGE] = (uint8_t)(i % 255 + 1);   /* no zero page: those are not sent ahead */
        }
        dsm_get_stats(g_dsm, &s1);
        CHECK(s1.read_faults + s1.write_faults == s0.read_faults + s0.write_faults,
              "node 0 took %llu faults writing its own home memory",
              (unsigned long long)(s1.read_faults + s1.write_faults - s0.read_faults -
                                   s0.write_faults));
    }
    barrier();
    if (opt.node == 1) {
        for (size_t i = 0; i < npages; i++) {
            struct dsm_stats before, after;
            dsm_get_stats(g_dsm, &before);
            CHECK(b[i * PAGE] == (uint8_t)(i % 255 + 1), "page %zu: %u, want %u", i,
                  b[i * PAGE], (unsigned)(uint8_t)(i % 255 + 1));
            dsm_get_stats(g_dsm, &after);
            if (after.read_faults != before.read_faults) {
                /* The fault's reply wakes us before the pages sent after it are
                 * installed: wait (2 s at most) for the last of them, so that the
                 * counts below do not depend on who wins that race. */
                size_t last = i + 8 < npages ? i + 8 : npages - 1;
                for (int t = 0; t < 20000 && !resident_pages(b + last * PAGE, PAGE); t++) {
                    usleep(100);
                }
            }
        }
        /* The receive thread counts a page sent ahead just after installing
         * it: give the last one's count 2 s to land. */
        for (int t = 0; t < 20000; t++) {
            dsm_get_stats(g_dsm, &s1);
            if (s1.read_faults - s0.read_faults + s1.read_ahead_received -
                s0.read_ahead_received >= npages) {
                break;
            }
            usleep(100);
        }
        uint64_t faults = s1.read_faults - s0.read_faults;
        uint64_t ahead = s1.read_ahead_received - s0.read_ahead_received;
        fprintf(stderr, "node 1: %llu read faults, %llu pages read ahead\n",
                (unsigned long long)faults, (unsigned long long)ahead);
        CHECK(faults >= (npages + 8) / 9 && faults <= npages / 4,
              "node 1 took %llu read faults for %zu pages", (unsigned long long)faults, npages);
        CHECK(faults + ahead >= npages && ahead >= npages / 2,
              "%llu pages read ahead, %llu faults, for %zu pages", (unsigned long long)ahead,
              (unsigned long long)faults, npages);
    }
    barrier();
    /* Node 0 writes every page again, invalidating node 1's copies: each page
     * is now write-shared, and a later read of it gets no page sent ahead
     * (the writer would only take each one back). */
    if (opt.node == 0) {
        for (size_t i = 0; i < npages; i++) {
            b[i * PAGE] = (uint8_t)(i % 255 + 2);
        }
    }
    barrier();
    dsm_get_stats(g_dsm, &s0);
    if (opt.node == 1) {
        for (size_t i = 0; i < npages; i++) {
            CHECK(b[i * PAGE] == (uint8_t)(i % 255 + 2), "page %zu after the rewrite: %u, "
                  "want %u", i, b[i * PAGE], (unsigned)(uint8_t)(i % 255 + 2));
        }
        dsm_get_stats(g_dsm, &s1);
        CHECK(s1.read_faults - s0.read_faults == npages && s1.read_ahead_received ==
              s0.read_ahead_received, "write-shared pages: %llu read faults and %llu pages "
              "read ahead for %zu pages, want one fault each and none ahead",
              (unsigned long long)(s1.read_faults - s0.read_faults),
              (unsigned long long)(s1.read_ahead_received - s0.read_ahead_received), npages);
    }
    barrier();
    if (opt.node == 0) {
        dsm_get_stats(g_dsm, &s1);
        CHECK(s1.read_ahead_sent == s0.read_ahead_sent, "node 0 sent %llu write-shared pages "
              "ahead", (unsigned long long)(s1.read_ahead_sent - s0.read_ahead_sent));
    }
    barrier();
    finish();
    return atomic_load(&g_failures) ? 1 : 0;
}

/* Exclusive reads (dsm_config.exclusive_reads), whatever the driver says.
 * A counter that the nodes take turns to read and increment (a lock word):
 * once a node has read and then written it, each later turn costs it one
 * fault, the read asked exclusively, and its store none.  Then every node
 * only reads a page marked migratory: the first copy given away unwritten
 * drops the mark, and after that the readers share the page. */
static int test_migratory(void)
{
    size_t npages = 4, size = npages * PAGE;
    const int rounds = 20;
    void *reg = map_region(size);
    opt.exclusive_reads = 1;
    if (start_dsm(&reg, &size, 1) < 0) {
        return 1;
    }
    volatile uint64_t *counter = reg;
    volatile uint64_t *shared = (volatile uint64_t *)((uint8_t *)reg + PAGE);
    struct dsm_stats s0, s1, s2;
    barrier();
    dsm_get_stats(g_dsm, &s0);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < opt.nodes; k++) {
            if (k == opt.node) {
                uint64_t v = *counter;              /* read fault ... */
                CHECK(v == (uint64_t)(r * opt.nodes + k), "round %d: counter %llu", r,
                      (unsigned long long)v);
                *counter = v + 1;                   /* ... then the store */
                if (r == 0) {
                    *shared = (uint64_t)k + 1;      /* read by all below, after round 0 */
                }
            }
            barrier();
        }
    }
    dsm_get_stats(g_dsm, &s1);
    uint64_t xreads = s1.exclusive_reads - s0.exclusive_reads;
    uint64_t silent = s1.exclusive_upgrades - s0.exclusive_upgrades;
    uint64_t remote_writes = s1.write_faults - s0.write_faults;   /* silent ones excluded */
    fprintf(stderr, "node %d: %d turns, %llu exclusive reads, %llu stores without a message, "
            "%llu other write faults\n", opt.node, rounds, (unsigned long long)xreads,
            (unsigned long long)silent, (unsigned long long)remote_writes);
    /* Turn 1 reads and upgrades (marks it); the other rounds - 1 need one fault each. */
    CHECK(xreads >= (uint64_t)rounds - 2 && silent >= (uint64_t)rounds - 2,
          "node %d: %llu exclusive reads and %llu silent stores in %d turns", opt.node,
          (unsigned long long)xreads, (unsigned long long)silent, rounds);
    CHECK(remote_writes <= 3, "node %d: %llu write faults needed a message",
          opt.node, (unsigned long long)remote_writes);
    /* The page of *shared was read then written by its last writer only. */
    barrier();
    for (int pass = 0; pass < 3; pass++) {
        for (int k = 0; k < opt.nodes; k++) {
            if (k == opt.node) {
                CHECK(*shared == (uint64_t)opt.nodes, "shared word %llu",
                      (unsigned long long)*shared);
                CHECK(*counter == (uint64_t)(rounds * opt.nodes), "counter %llu",
                      (unsigned long long)*counter);
            }
            barrier();
        }
    }
    dsm_get_stats(g_dsm, &s2);
    /* Every node reads both words in every pass: a marked page taken by a reader
     * is given away unwritten once, and is then shared: no faults in the last pass. */
    uint64_t reads = s2.read_faults - s1.read_faults;
    fprintf(stderr, "node %d: %llu read faults in 3 read-only passes, %llu marks dropped\n",
            opt.node, (unsigned long long)reads,
            (unsigned long long)(s2.migratory_cleared - s1.migratory_cleared));
    CHECK(reads <= 2 * 2, "node %d: %llu read faults reading 2 pages 3 times", opt.node,
          (unsigned long long)reads);
    barrier();
    finish();
    return atomic_load(&g_failures) ? 1 : 0;
}

static int test_failure(void)
{
    size_t npages = 64, size = npages * PAGE;
    void *reg = map_region(size);
    if (start_dsm(&reg, &size, 1) < 0) {
        return 1;
    }
    volatile uint64_t *w = reg;
    int victim = opt.nodes - 1;
    if (opt.node == victim) {
        for (size_t i = 0; i < npages; i++) {
            w[i * WORDS_PER_PAGE] = i;
        }
    }
    barrier();
    if (opt.node == 0 && opt.ready_fd >= 0) {
        if (write(opt.ready_fd, "r", 1) != 1) {
            perror("ready pipe");
        }
    }
    /* keep pages moving between everybody until the victim is killed */
    for (uint64_t it = 0;; it++) {
        size_t i = (size_t)(it * 7 + (uint64_t)opt.node) % npages;
        w[i * WORDS_PER_PAGE + 1 + (size_t)opt.node] = it;
        (void)w[((i + 13) % npages) * WORDS_PER_PAGE];
        if ((it & 63) == 0) {
            sched_yield();
        }
        if (it > 50000000) {
            break;
        }
    }
    fail("the victim was never killed");
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "node", 1, 0, 'n' }, { "nodes", 1, 0, 'N' }, { "threads", 1, 0, 't' },
        { "test", 1, 0, 'T' }, { "transport", 1, 0, 'x' }, { "addrs", 1, 0, 'a' },
        { "listen-fd", 1, 0, 'l' }, { "shm-name", 1, 0, 's' }, { "ready-fd", 1, 0, 'r' },
        { "secret", 1, 0, 'S' }, { "verbose", 0, 0, 'v' }, { "default-handler", 0, 0, 'D' },
        { "homed", 0, 0, 'H' }, { "read-ahead", 1, 0, 'R' },
        { "connect-timeout", 1, 0, 'C' }, { "exclusive-reads", 0, 0, 'E' }, { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'n': opt.node = atoi(optarg); break;
        case 'N': opt.nodes = atoi(optarg); break;
        case 't': opt.threads = atoi(optarg); break;
        case 'T': opt.test = optarg; break;
        case 'x': opt.transport = optarg; break;
        case 'a': opt.addrs = optarg; break;
        case 'l': opt.listen_fd = atoi(optarg); break;
        case 's': opt.shm_name = optarg; break;
        case 'r': opt.ready_fd = atoi(optarg); break;
        case 'S': opt.secret = optarg; break;
        case 'v': opt.verbose = 1; break;
        case 'D': opt.default_handler = 1; break;
        case 'H': opt.homed = 1; break;
        case 'R': opt.read_ahead = (unsigned)atoi(optarg); break;
        case 'E': opt.exclusive_reads = 1; break;
        case 'C': opt.connect_timeout_ms = atoi(optarg); break;
        default: return 2;
        }
    }
    if (!opt.test || !opt.transport || opt.nodes < 1 || opt.threads < 1 || opt.threads > 64) {
        fprintf(stderr, "usage: dsm-test-node --node I --nodes N --test mixed|resident|failure "
                "--transport tcp|shm|rdma [--addrs A,B,..] [--listen-fd FD] [--shm-name NAME]\n");
        return 2;
    }
    if (!strcmp(opt.test, "mixed")) {
        return test_mixed();
    }
    if (!strcmp(opt.test, "resident")) {
        return test_resident();
    }
    if (!strcmp(opt.test, "homes")) {
        return test_homes();
    }
    if (!strcmp(opt.test, "migratory")) {
        return test_migratory();
    }
    if (!strcmp(opt.test, "failure")) {
        return test_failure();
    }
    fprintf(stderr, "unknown test %s\n", opt.test);
    return 2;
}
