/*
 * dsm.h - page-based distributed shared memory for a guest spread over
 * several host processes (Ivy protocol, distributed fixed managers).
 *
 * Guest RAM regions are registered with userfaultfd; a page is present and
 * writable on the one node that holds it Modified, present and
 * write-protected on nodes that hold it Shared, and absent elsewhere.
 *
 * Usage:
 *   dsm_config_init(&cfg); fill node_id, num_nodes, transport, addresses;
 *   d = dsm_create(&cfg, &callbacks, err, sizeof(err));
 *   dsm_add_region(d, base, size);          (once per RAM block)
 *   dsm_start(d, err, sizeof(err));         (connects + authenticates)
 *   ... guest runs; faults are served by the library's threads ...
 *   dsm_stop(d); dsm_destroy(d);
 *
 * Callbacks run on library threads (receive context).  They must not touch
 * DSM-managed memory that may be absent (the thread that would resolve the
 * fault is the one running the callback) and must not call dsm_* functions
 * except dsm_get_stats(), dsm_node_id() and dsm_num_nodes().
 */
#ifndef DSM_H
#define DSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DSM_MAX_NODES        64
#define DSM_MAX_REGIONS      8
#define DSM_PAGE_SIZE        4096u
#define DSM_APP_MSG_MAX      65536u
#define DSM_PROTOCOL_VERSION 1u
#define DSM_LAT_BUCKETS      40   /* bucket i counts latencies in [2^i, 2^(i+1)) ns */

struct dsm;

enum dsm_transport_kind {
    DSM_TRANSPORT_TCP = 0,
    DSM_TRANSPORT_SHM = 1,
};

enum dsm_policy {
    DSM_POLICY_WRITE_INVALIDATE = 0,  /* default Ivy behaviour */
    DSM_POLICY_WRITE_UPDATE     = 1,  /* kept Shared everywhere, changed via dsm_write_update() */
};

enum dsm_log_level {
    DSM_LOG_ERROR = 0,
    DSM_LOG_WARN  = 1,
    DSM_LOG_INFO  = 2,
    DSM_LOG_DEBUG = 3,
};

struct dsm_callbacks {
    void *opaque;
    /* The local content of [host_addr, host_addr+len) changed: new content
     * was installed, or the page was given away or invalidated (TCG must drop
     * its translations of that range).  Must not block: it runs on the thread
     * that resolves faults. */
    void (*page_replaced)(void *opaque, void *host_addr, size_t len);
    /* A peer died, misbehaved or timed out; the guest cannot continue.
     * If NULL: the reason is logged and the process exits with status 1. */
    void (*peer_failed)(void *opaque, int node, const char *reason);
    /* A message sent by dsm_send_app() on node src_node. */
    void (*app_message)(void *opaque, int src_node, const void *buf, size_t len);
    /* Log sink; NULL means stderr with a "dsm[node]:" prefix. */
    void (*log)(void *opaque, enum dsm_log_level level, const char *msg);
};

struct dsm_config {
    int node_id;                   /* 0 .. num_nodes-1 */
    int num_nodes;                 /* 1 .. DSM_MAX_NODES */
    enum dsm_transport_kind transport;
    /* TCP: "host:port" of every node, indexed by node id. */
    const char *const *tcp_addrs;
    /* TCP: an already bound+listening socket to use instead of binding
     * tcp_addrs[node_id] (-1 = none).  Ownership passes to the library. */
    int tcp_listen_fd;
    /* SHM: name of the shared file under /dev/shm (same for all nodes). */
    const char *shm_name;
    /* SHM: how long a receiver spins before sleeping on its futex (ns). */
    unsigned shm_spin_ns;          /* default 0: spinning only helps with idle cores */
    /* Cluster secret used for HMAC-SHA256 challenge/response. */
    const void *secret;
    size_t secret_len;
    int connect_timeout_ms;        /* default 10000 */
    int request_timeout_ms;        /* a fault waiting longer is a failure; default 10000 */
    enum dsm_log_level log_level;  /* default DSM_LOG_WARN */
    /* Read-ahead: when a node owns and manages a page another node reads,
     * it also sends (Shared) up to this many following pages it owns and
     * manages that are idle and not in the reader's copyset, skipping pages
     * that ever lost a copy here (contended).  0 (default) = off. */
    unsigned read_ahead_pages;
};

struct dsm_stats {
    uint64_t read_faults;
    uint64_t write_faults;
    uint64_t faults_remote;        /* needed at least one other node */
    uint64_t faults_local;         /* resolved without talking to anybody */
    uint64_t pages_sent;
    uint64_t pages_received;
    uint64_t invalidations_sent;
    uint64_t invalidations_received;
    uint64_t zero_page_installs;
    uint64_t msgs_sent;
    uint64_t msgs_received;
    uint64_t bytes_sent;
    uint64_t bytes_received;
    uint64_t wu_updates;           /* dsm_write_update() pages completed by this node */
    uint64_t wu_pages_replaced;    /* write-update installs on this node */
    uint64_t wu_fallbacks;         /* plain stores into write-update pages */
    uint64_t read_ahead_sent;      /* pages sent ahead of a read (no fault asked for them) */
    uint64_t read_ahead_received;  /* of those, installed here */
    uint64_t app_sent;
    uint64_t app_received;
    uint64_t fault_latency_ns[DSM_LAT_BUCKETS];
};

/* Fills defaults (everything zero except tcp_listen_fd = -1 and timeouts). */
void dsm_config_init(struct dsm_config *cfg);

struct dsm *dsm_create(const struct dsm_config *cfg,
                       const struct dsm_callbacks *cb, /* may be NULL */
                       char *err, size_t errlen);

/* Registers [base, base+size) (page aligned, anonymous private memory).
 * Its current content is discarded: initially no node holds any page.
 * Must be called in the same order with the same sizes on every node,
 * before dsm_start().  The region's pages are managed interleaved over
 * the nodes (page p by node p % n).  0, or -1 with errno. */
int dsm_add_region(struct dsm *d, void *base, size_t size);

#define DSM_HOME_INTERLEAVE (-1)
/* The same, with every page of the region managed by node `home` (or
 * DSM_HOME_INTERLEAVE).  Give each node the memory its own vCPUs use
 * (the guest's NUMA node): faults on it then stay on that node.  Every
 * node must register the same homes. */
int dsm_add_region_home(struct dsm *d, void *base, size_t size, int home);

/* Connects to every peer, runs the authenticated handshake, starts the
 * fault and receive threads.  Returns 0, or -1 with a message in err. */
int dsm_start(struct dsm *d, char *err, size_t errlen);

/* Per-page policy (local setting; set the same on every node; allowed
 * any time after dsm_add_region()). */
int dsm_set_policy(struct dsm *d, void *addr, size_t len, enum dsm_policy policy);

/* Writes data at addr on every node at once (each node replaces its copy
 * and fires page_replaced).  Returns after every node acknowledged; 0 or -1. */
int dsm_write_update(struct dsm *d, void *addr, const void *data, size_t len);

/* Sends an application message (len <= DSM_APP_MSG_MAX) to dst_node;
 * delivered to its app_message callback in order per (src, dst) pair. */
int dsm_send_app(struct dsm *d, int dst_node, const void *buf, size_t len);

/* Blocks until every node called dsm_barrier() (timeout_ms <= 0: the
 * request timeout).  0 or -1. */
int dsm_barrier(struct dsm *d, int timeout_ms);

void dsm_get_stats(struct dsm *d, struct dsm_stats *out);
/* Human-readable one-stats-per-line dump into buf; returns length. */
size_t dsm_format_stats(const struct dsm_stats *s, char *buf, size_t len);

/* Per-page counters: faults taken on this node, copies invalidated here. */
struct dsm_page_count {
    void *addr;
    uint32_t faults;
    uint32_t invalidations;
};
/* The (at most n) pages with the most faults here, hottest first; returns how many. */
size_t dsm_hot_pages(struct dsm *d, struct dsm_page_count *out, size_t n);
/* The counters of the page holding addr; 0, or -1 if addr is not DSM memory. */
int dsm_page_counts(struct dsm *d, void *addr, struct dsm_page_count *out);

/* Bit i set: node i failed (died, misbehaved or timed out). */
uint64_t dsm_failed_nodes(struct dsm *d);

int dsm_node_id(const struct dsm *d);
int dsm_num_nodes(const struct dsm *d);

/* Orderly leave: tells peers, waits (bounded) for theirs, stops threads.
 * Memory stays mapped; pages not held locally stay absent. */
void dsm_stop(struct dsm *d);
void dsm_destroy(struct dsm *d);

#ifdef __cplusplus
}
#endif

#endif /* DSM_H */
