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
 * Errors
 * ------
 * A call that can fail returns a negative errno value (-EINVAL, ...) and 0
 * (or a count) on success.  Only dsm_create() and dsm_start() also write a
 * message into the caller's err buffer (always NUL-terminated when errlen
 * is not 0); dsm_create() returns NULL and leaves the code in errno, since
 * it returns a pointer.  The codes, for every call that returns them:
 *   -EINVAL     a bad argument (range not inside registered memory, bad
 *               node id or length, misaligned region, ...)
 *   -EBUSY      the call is for the set-up phase and dsm_start() ran
 *   -ENOTCONN   the call needs a started instance (dsm_start() did not
 *               succeed, or dsm_stop() ran)
 *   -EPIPE      a node the operation needs failed (died, misbehaved or
 *               timed out; see dsm_failed_nodes())
 *   -ETIMEDOUT  no answer in time (barrier, write-update)
 *   -ENOMEM, and system call errors as documented per call.
 * (For callers written against the former "-1 and errno" convention, a
 * failing call also sets errno to the same value; that is not part of the
 * contract.)
 *
 * Threads
 * -------
 * After dsm_start() an instance runs two threads of its own:
 *   the fault thread    reads the userfaultfd and sends each fault's request
 *                       itself; it also notices failed peers and request
 *                       timeouts (every 100 ms) and reports them.
 *   the receive thread  one per instance, none with one node (TCP: epoll
 *                       over every peer socket; shm: drains every ring;
 *                       RDMA: polls every completion queue, then blocks
 *                       on their completion channels):
 *                       handles each protocol message as it arrives, and
 *                       hands application messages to app_message.
 * Protocol state is protected by one mutex per instance, "the DSM lock".
 * A thread holding it also handles the messages the node sends to itself,
 * so some work (and callbacks) also run on an application thread that is
 * inside dsm_write_update().
 *
 * Callback rules (struct dsm_callbacks)
 * -------------------------------------
 *   callback        called on                              DSM lock held
 *   page_replaced   receive thread, fault thread, or the   yes
 *                   thread inside dsm_write_update()
 *   peer_failed     fault thread only                      no
 *   app_message     receive thread only                    no
 *   log             any of the above, and the thread in    sometimes
 *                   dsm_start(), dsm_stop(), dsm_destroy()
 * Every callback:
 *   - must not touch DSM-managed memory that may be absent on this node:
 *     the fault would wait for the fault or receive thread, which may be
 *     the one running the callback, or wait for the DSM lock it holds;
 *   - must not make blocking DSM calls: dsm_write_update(), dsm_barrier(),
 *     dsm_stop(), dsm_destroy() (they wait for the library's own threads,
 *     or join them);
 *   - may call the lock-free queries: dsm_node_id(), dsm_num_nodes(),
 *     dsm_get_stats(), dsm_format_stats(), dsm_failed_nodes(),
 *     dsm_hot_pages(), dsm_page_counts().
 * In addition:
 *   - page_replaced and log may run with the DSM lock held, so they must not
 *     call dsm_set_policy() or dsm_send_app() either, and must return
 *     quickly (page_replaced delays the fault being resolved);
 *   - app_message may call dsm_send_app() (e.g. to answer) and
 *     dsm_set_policy().  dsm_send_app() waits only while application
 *     messages fill half of the connection to that peer (bounded by
 *     request_timeout_ms, after which the peer is declared failed), so
 *     answering is fine but flooding a peer from here is not;
 *   - peer_failed may end the process (the default does: exit(1)); while it
 *     runs, no fault on this node is served and no other failure reported.
 *     It is called once per failed node; node may be this node's own id
 *     when the library cannot go on (out of memory).  A peer that left with
 *     dsm_stop() is not a failure.  Failures after dsm_stop() are not
 *     reported.
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
    DSM_TRANSPORT_RDMA = 2,        /* RC queue pairs over libibverbs + librdmacm */
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

/* All optional (NULL).  Threads and what each may call: see "Callback
 * rules" at the top of this file. */
struct dsm_callbacks {
    void *opaque;
    /* The local content of [host_addr, host_addr+len) changed: new content
     * was installed (data, zeroes or a write-update), or the page was given
     * away or invalidated (TCG must drop its translations of that range). */
    void (*page_replaced)(void *opaque, void *host_addr, size_t len);
    /* Node `node` died, misbehaved or timed out; the guest cannot continue.
     * If NULL: the reason is logged and the process exits with status 1
     * (the library's only exit()). */
    void (*peer_failed)(void *opaque, int node, const char *reason);
    /* A message sent by dsm_send_app() on node src_node; buf is valid
     * only during the call.  In order per (source, destination) pair. */
    void (*app_message)(void *opaque, int src_node, const void *buf, size_t len);
    /* Log sink for every message of the library; NULL means stderr with a
     * "dsm[node N] level:" prefix.  msg is valid only during the call. */
    void (*log)(void *opaque, enum dsm_log_level level, const char *msg);
};

struct dsm_config {
    int node_id;                   /* 0 .. num_nodes-1 */
    int num_nodes;                 /* 1 .. DSM_MAX_NODES */
    enum dsm_transport_kind transport;
    /* TCP: "host:port" of every node, indexed by node id ("[v6]:port" or
     * "v6:port" for an IPv6 address; neither part may be empty). */
    const char *const *tcp_addrs;
    /* TCP: an already bound+listening socket to use instead of binding
     * tcp_addrs[node_id] (-1 = none).  Ownership passes to the library
     * when dsm_create() succeeds. */
    int tcp_listen_fd;
    /* RDMA: "host:port" of every node, indexed by node id: an IP address
     * of the RDMA device (RoCE: its netdev; InfiniBand: IPoIB) and a port
     * of the rdma_cm port space; the device is the one rdma_cm routes that
     * address to.  Registers about 0.5 MiB of buffers per peer (locked
     * memory: ulimit -l). */
    const char *const *rdma_addrs;
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
    /* Migratory pages: a node that upgraded its read copy of a page to a
     * write asks for the page exclusively at its next read fault on it, and
     * installs it write-protected ("Exclusive"): its first store then needs
     * no message.  A page given away while still Exclusive (never written)
     * loses the mark.  Saves the read + upgrade pair of locks and counters
     * that move between nodes.  0 (default) = off. */
    unsigned exclusive_reads;
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
    uint64_t exclusive_reads;      /* read faults asked as writes (migratory pages) */
    uint64_t exclusive_upgrades;   /* first stores into Exclusive pages: no message, and
                                    * not in write_faults (no probe sees them) */
    uint64_t migratory_cleared;    /* Exclusive pages given away unwritten: mark dropped */
    uint64_t app_sent;
    uint64_t app_received;
    uint64_t fault_latency_ns[DSM_LAT_BUCKETS];
};

/*
 * dsm_config_init - fill *cfg with the defaults: everything zero except
 * tcp_listen_fd = -1, connect and request timeouts 10000 ms, log level
 * DSM_LOG_WARN.
 * Any thread; no lock; does not block.
 */
void dsm_config_init(struct dsm_config *cfg);

/*
 * dsm_create - a new instance for node cfg->node_id of cfg->num_nodes.
 * Copies *cfg with the addresses, name and secret it points to, and *cb
 * (cb may be NULL: no callbacks); opens the userfaultfd.  No thread is started and nothing is sent.
 * Returns the instance, or NULL with a message in err and errno set:
 * EINVAL (bad node id or count, transport, missing tcp_addrs or rdma_addrs, secret_len
 * without secret), ENOMEM, or the error of userfaultfd() (e.g. EPERM
 * without CAP_SYS_PTRACE) or eventfd().
 * Any thread; no lock; does not block.
 */
struct dsm *dsm_create(const struct dsm_config *cfg,
                       const struct dsm_callbacks *cb, /* may be NULL */
                       char *err, size_t errlen);

/*
 * dsm_add_region - register [base, base+size) (page aligned, anonymous
 * private memory) with its pages managed interleaved over the nodes (page
 * p by node p % n).  Its current content is discarded at dsm_start():
 * initially no node holds any page.  Every node must register the same
 * sizes in the same order.
 * Returns 0; -EINVAL (NULL or misaligned base, size 0 or misaligned,
 * overlaps a registered region), -EBUSY (dsm_start() was called),
 * -ENOSPC (already DSM_MAX_REGIONS), -ENOMEM.
 * Set-up phase: one thread, no other call on d running; no lock; does not
 * block.
 */
int dsm_add_region(struct dsm *d, void *base, size_t size);

#define DSM_HOME_INTERLEAVE (-1)
/*
 * dsm_add_region_home - the same, with every page of the region managed
 * by node `home` (or DSM_HOME_INTERLEAVE).  Give each node the memory its
 * own vCPUs use (the guest's NUMA node): faults on it then stay on that
 * node.  Every node must register the same homes.
 * Returns as dsm_add_region(); also -EINVAL if home is neither a node id
 * nor DSM_HOME_INTERLEAVE.  Same thread and lock rules.
 */
int dsm_add_region_home(struct dsm *d, void *base, size_t size, int home);

/*
 * dsm_start - register the regions with userfaultfd (discarding their
 * content; this node's home pages start here as zero pages), connect to
 * every peer and run the authenticated handshake, start the fault and
 * receive threads.
 * Returns 0, or -errno with a message in err: -EINVAL (no region, bad
 * address or shm name), -EBUSY (called before), -ETIMEDOUT (a peer did not
 * come within connect_timeout_ms), -ECONNREFUSED (a peer was refused or
 * refused this node: another secret, protocol version, node count or
 * region sizes), -ECONNRESET (a shm peer went away during the handshake),
 * -ENODEV (rdma transport: no RDMA device, message "no RDMA device found
 * (rdma_cm: ...)", or none has this node's address),
 * -ENOMEM, or a system call's error (bind(), userfaultfd registration:
 * -EOPNOTSUPP when the memory cannot be write-protected).  After a failure
 * only dsm_destroy() may be called.
 * Set-up phase: one thread, no other call on d running; no lock; blocks
 * until every peer is connected (at most connect_timeout_ms).  Calls log.
 */
int dsm_start(struct dsm *d, char *err, size_t errlen);

/*
 * dsm_set_policy - set the policy of the pages overlapping [addr, addr+len).
 * A local setting: set the same on every node.  Allowed any time after the
 * region was added.
 * Returns 0; -EINVAL (len 0, unknown policy, range not inside registered
 * memory).
 * Any thread (also from app_message, not from page_replaced or log); takes
 * the DSM lock briefly; does not block otherwise.
 */
int dsm_set_policy(struct dsm *d, void *addr, size_t len, enum dsm_policy policy);

/*
 * dsm_write_update - write len bytes from data at addr on every node at
 * once: for each page touched, its manager builds the new content and
 * every node replaces its copy (write-protected, page_replaced fires).
 * Any DSM page may be written this way; pages written so are normally
 * marked DSM_POLICY_WRITE_UPDATE (plain stores to them then count as
 * wu_fallbacks).  data must not point into DSM-managed memory.
 * Returns 0 once every live node acknowledged every page; -EINVAL (len 0,
 * data NULL, range not inside registered memory), -ENOTCONN (not
 * started), -EPIPE (a node failed), -ETIMEDOUT (a page not acknowledged
 * within request_timeout_ms).  On an error the pages before the failing
 * one were updated.
 * Any application thread, not from a callback; calls on one node are
 * serialised; takes the DSM lock; blocks up to request_timeout_ms per page.
 * May call page_replaced and log on the calling thread.
 */
int dsm_write_update(struct dsm *d, void *addr, const void *data, size_t len);

/*
 * dsm_send_app - send len bytes (1 .. DSM_APP_MSG_MAX) to node dst_node's
 * app_message callback, over the DSM connections, in order per (src, dst)
 * pair.  buf may be reused on return.
 * Returns 0; -EINVAL (dst_node out of range or this node, len 0 or too
 * long, buf NULL), -ENOTCONN (not started), -EPIPE (dst_node failed or its
 * connection broke).
 * Any thread, also from app_message; does not take the DSM lock; waits
 * only while application messages fill half of the connection to dst_node
 * (at most request_timeout_ms; then dst_node is declared failed).
 */
int dsm_send_app(struct dsm *d, int dst_node, const void *buf, size_t len);

/*
 * dsm_barrier - wait until every node called dsm_barrier() (node 0
 * coordinates).  timeout_ms <= 0 means request_timeout_ms.
 * Returns 0; -ENOTCONN (not started), -ETIMEDOUT (not every node arrived
 * in time), -EPIPE (a node failed).  After an error the nodes' barrier
 * counts disagree: do not use barriers on this cluster again.
 * One application thread per node at a time, not from a callback; takes
 * the DSM lock; blocks up to timeout_ms.
 */
int dsm_barrier(struct dsm *d, int timeout_ms);

/*
 * dsm_get_stats - copy the counters into *out (each read atomically, the
 * set not as one snapshot).
 * Any thread, also from callbacks; lock-free; does not block.
 */
void dsm_get_stats(struct dsm *d, struct dsm_stats *out);

/*
 * dsm_format_stats - one counter per line, then the non-empty latency
 * buckets, into buf (NUL-terminated, truncated to len - 1 characters).
 * Returns the length written.
 * Any thread, also from callbacks; touches nothing but *s and buf.
 */
size_t dsm_format_stats(const struct dsm_stats *s, char *buf, size_t len);

/* Per-page counters: faults taken on this node, copies invalidated here. */
struct dsm_page_count {
    void *addr;
    uint32_t faults;
    uint32_t invalidations;
};

/*
 * dsm_hot_pages - the (at most n) pages with the most faults here, hottest
 * first (ties: more invalidations first); pages with no fault and no
 * invalidation are left out.  Returns how many were written to out.
 * Any thread, also from callbacks; lock-free (counters read one by one);
 * does not block; costs a scan of every page.
 */
size_t dsm_hot_pages(struct dsm *d, struct dsm_page_count *out, size_t n);

/*
 * dsm_page_counts - the counters of the page holding addr.
 * Returns 0; -EINVAL if addr is not in registered memory.
 * Any thread, also from callbacks; lock-free; does not block.
 */
int dsm_page_counts(struct dsm *d, void *addr, struct dsm_page_count *out);

/*
 * dsm_failed_nodes - bit i set: node i failed (died, misbehaved or timed
 * out), or left with dsm_stop() and then closed its connection.
 * Any thread, also from callbacks; lock-free; does not block.
 */
uint64_t dsm_failed_nodes(struct dsm *d);

/* This node's id, and the number of nodes (from the configuration).
 * Any thread, also from callbacks; lock-free; do not block. */
int dsm_node_id(const struct dsm *d);
int dsm_num_nodes(const struct dsm *d);

/*
 * dsm_stop - orderly leave: send BYE to every peer, wait (at most 5 s) for
 * theirs, stop the receive and fault threads.  Memory stays mapped and
 * registered: pages not held here stay absent, and an access to one blocks
 * until dsm_destroy() unregisters the memory.  Does nothing if the
 * instance is not started.
 * An application thread, not from a callback, no other call on d running
 * or starting; takes the DSM lock; blocks (the wait, then joins threads).
 */
void dsm_stop(struct dsm *d);

/*
 * dsm_destroy - dsm_stop() if needed, then unregister the memory, close
 * every descriptor and free d.  d may be NULL.  Same rules as dsm_stop().
 */
void dsm_destroy(struct dsm *d);

#ifdef __cplusplus
}
#endif

#endif /* DSM_H */
