/*
 * dsmvm: state shared by the files of the QEMU side of a node.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_DSMVM_INTERNAL_H
#define HW_DSMVM_INTERNAL_H

#include "qemu/bitmap.h"
#include "qemu/thread.h"
#include "qemu/notify.h"
#include "qom/object.h"
#include "exec/memory.h"
#include "qapi/qapi-types-qom.h"
#include "hw/dsmvm/dsmvm.h"
#include "cluster.h"
#include "wire.h"

OBJECT_DECLARE_SIMPLE_TYPE(DsmvmNode, DSMVM_NODE)

#define DSMVM_IO_OVERLAYS 8
#define DSMVM_MAX_CPUS 1024
#define DSMVM_WU_MAX_AREAS 8

typedef struct DsmvmCounters {
    uint64_t io_forwarded;      /* accesses this node sent to the device node */
    /* accesses the device node carried out for others */
    uint64_t io_served;
    uint64_t irqs_sent;         /* interrupts and IPIs sent to other nodes */
    uint64_t irqs_received;
    uint64_t eois_forwarded;
    uint64_t apic_updates_sent;
    uint64_t tb_flushes_queued;   /* replaced pages that held translated code */
    /* replaced pages without any: no main-loop round trip */
    uint64_t tb_flushes_skipped;
} DsmvmCounters;

/* Guest resets (reset.c); main loop only. */
typedef struct DsmvmReset {
    bool started;               /* the guest has run: later resets count */
    uint32_t round;             /* the last round this node started */
    uint64_t waiting;           /* peers yet to answer that round */
    bool device_node_later;     /* RESET to the device node not sent yet */
    uint64_t ack_pending;       /* peers whose RESET the next reset answers */
    uint32_t *ack_round;        /* their rounds, by node */
    uint64_t post_acks;         /* what reset_post_bh() does next */
    bool post_initiate;
    QEMUBH *post_bh;
    QEMUTimer *timer;
} DsmvmReset;

/* A write-update area the guest registered (hypercall.c). */
typedef struct DsmvmWuArea {
    uint64_t gpa;
    uint64_t len;
} DsmvmWuArea;

/* The hypercall doorbell and the write-update areas (hypercall.c); BQL. */
typedef struct DsmvmHypercalls {
    MemoryRegion doorbell;
    DsmvmWuArea wu_areas[DSMVM_WU_MAX_AREAS];
    int wu_count;
} DsmvmHypercalls;

/*
 * A catch-all region whose accesses are carried out on the device node
 * (io-forward.c); node and base are what its callbacks need.
 */
typedef struct DsmvmOverlay {
    DsmvmNode *node;
    uint32_t space;             /* DSMVM_SPACE_* */
    uint64_t base;              /* address of the region's start */
    MemoryRegion mr;
} DsmvmOverlay;

/*
 * dispatch.c: every message type has one handler, registered by the file
 * that owns the type, with the context it runs in.
 */
typedef enum DsmvmMsgContext {
    /*
     * The DSM's receive thread, as the message arrives: must not take the
     * BQL (a vCPU holding it may be waiting for this very thread to resolve
     * a page fault) nor wait for a peer.
     */
    DSMVM_CTX_RECEIVE,
    /*
     * The main loop with the BQL held, through the inbox, in arrival order
     * with the other main-loop messages and the translation drops.
     */
    DSMVM_CTX_MAIN_LOOP,
} DsmvmMsgContext;

/* msg is a message of the handler's type, validated and aligned. */
typedef void DsmvmMsgHandler(DsmvmNode *n, int src, const void *msg);

typedef struct DsmvmMsgHandlerEntry {
    DsmvmMsgHandler *fn;
    DsmvmMsgContext context;
    size_t min_len;
} DsmvmMsgHandlerEntry;

struct DsmvmNode {
    Object parent_obj;

    /* properties */
    uint32_t node_id;
    char *cluster_path;
    char *stats_file;
    uint64_t *watch_gpns;       /* pages whose counters the stats report */
    int num_watch;
    /* hypercall features offered to the guest (hypercalls/ABI.md) */
    uint32_t guest_features;

    DsmvmCluster *cluster;
    struct dsm *dsm;
    Notifier machine_done;
    Notifier shutdown;
    Notifier exit;

    /* Message handlers by type (dispatch.c). */
    DsmvmMsgHandlerEntry handlers[DSMVM_MSG_TYPE_MAX];

    /*
     * Messages from the DSM's receive thread that need the BQL wait here for
     * the main loop.
     */
    QemuMutex inbox_lock;
    GQueue inbox;
    QEMUBH *inbox_bh;

    /*
     * Requests waiting for a reply (I/O, clock samples, write-update
     * registrations); woken by the receive thread (request.c). The hello
     * exchange waits on the same lock and condition (hello.c).
     */
    QemuMutex reply_lock;
    QemuCond reply_cond;
    GHashTable *pending;
    uint64_t next_seq;

    /* Configuration check with every peer at connect time. */
    char fingerprint[DSMVM_FINGERPRINT_LEN];
    int hellos_ok;
    char *hello_error;

    bool shutting_down;
    bool fatal;
    char exit_reason[160];
    DsmvmCounters counters;
    DsmvmReset reset;
    DsmvmHypercalls hc;
    DsmvmOverlay overlays[DSMVM_IO_OVERLAYS];
    /* vCPUs that another node runs, by cpu_index; set before they run */
    DECLARE_BITMAP(remote_cpus, DSMVM_MAX_CPUS);
};

/*
 * The node object; NULL when this QEMU is not part of a cluster. The one
 * global (hooks.c): the hooks that QEMU's core calls (system/cpus.c, the
 * APIC, the IOAPIC, CPUID) have no path to the object. Set once, by the
 * object's complete(), before the machine is created.
 */
extern DsmvmNode *dsmvm_node;

static inline bool dsmvm_is_device_node(DsmvmNode *n)
{
    return (int)n->node_id == n->cluster->device_node;
}

/*
 * dispatch.c: messages in and out.
 *
 * Registers fn as the handler of messages of the given type; min_len is the
 * shortest message it accepts (wire.c has already checked the exact size).
 * Called before the DSM connects, so that no message finds its type without
 * a handler; a message of a type without one is a protocol error.
 */
void dsmvm_register_handler(DsmvmNode *n, unsigned type,
                            DsmvmMsgContext context, size_t min_len,
                            DsmvmMsgHandler *fn);
void dsmvm_dispatch_init(DsmvmNode *n);
/* The DSM's app_message callback: receive thread. */
void dsmvm_app_message(void *opaque, int src, const void *buf, size_t len);
/*
 * Has fn(n, src, copy of data) run by the main loop with the BQL held, in
 * order with the main-loop messages; any thread.
 */
void dsmvm_inbox_push(DsmvmNode *n, DsmvmMsgHandler *fn, int src,
                      const void *data, size_t len);

/* Sends msg to node dst; a failure to send ends this node. */
void dsmvm_send(DsmvmNode *n, int dst, const void *msg, size_t len);
void dsmvm_broadcast(DsmvmNode *n, const void *msg, size_t len);

/*
 * request.c: requests that wait for a reply.
 *
 * dsmvm_request_init() sets up the lock, condition and table of pending
 * requests, which the hello exchange uses as well.
 */
void dsmvm_request_init(DsmvmNode *n);
/*
 * Sends req (whose seq field is filled in here) and waits for the reply with
 * the same seq, copied into reply. Drops the BQL while waiting, if held.
 * A peer that does not answer within timeout_ms ends this node.
 */
void dsmvm_request(DsmvmNode *n, int dst, void *req, size_t req_len,
                   uint64_t *seq_field, void *reply, size_t reply_len,
                   int timeout_ms, const char *what);
/* Called by the receive thread with a reply; false if nobody waits for seq. */
bool dsmvm_complete_request(DsmvmNode *n, uint64_t seq, const void *reply,
                            size_t len);

/*
 * hello.c: every node checks, when it connects, that its peers run the same
 * configuration (n->fingerprint). dsmvm_hello_install() registers HELLO
 * before the DSM connects; dsmvm_hello_exchange() sends ours and waits for
 * every peer's: false, with errp set, if one differs or a peer is silent for
 * the connect timeout.
 */
void dsmvm_hello_install(DsmvmNode *n);
bool dsmvm_hello_exchange(DsmvmNode *n, Error **errp);

/*
 * Ends this node at once: message, statistics with the reason, exit
 * status 1.
 */
G_NORETURN void dsmvm_fatal(DsmvmNode *n, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/*
 * guest-ram.c: host address of [gpa, gpa + len) if it is all guest RAM,
 * else NULL
 */
/* A RAM block of machine->ram: the whole of it, or one NUMA node's backend. */
#define DSMVM_MAX_RAM_PIECES 8
typedef struct DsmvmRamPiece {
    MemoryRegion *mr;
    uint64_t offset;        /* in machine->ram */
    uint64_t size;
    uint8_t *host;
} DsmvmRamPiece;
/*
 * Fills out[] in address order; returns how many, or -1 if machine->ram is
 * not made of at most max RAM blocks.
 */
int dsmvm_ram_pieces(DsmvmRamPiece *out, int max);
/*
 * Puts guest RAM under the DSM, each block with its home node (ram-homes.c);
 * homes gets e.g. "0,1" (-1: interleaved) for the fingerprint.
 */
bool dsmvm_ram_register(DsmvmNode *n, MachineState *ms, char *homes,
                        size_t homes_len, Error **errp);
void *dsmvm_gpa_to_host(uint64_t gpa, uint64_t len);
uint64_t dsmvm_host_to_gpa(void *host);

/*
 * The install functions below register the file's messages; node.c calls
 * them before the DSM connects.
 */

/*
 * io-forward.c: on the device node, serves forwarded accesses; elsewhere,
 * lays the catch-all regions that forward them.
 */
bool dsmvm_io_install(DsmvmNode *n, Error **errp);
void dsmvm_io_bios_area_as_ram(DsmvmNode *n);

/* irq-forward.c */
void dsmvm_irq_install(DsmvmNode *n);

/* hypercall.c */
void dsmvm_hypercall_install(DsmvmNode *n);
/* The guest reset: forget the write-update areas its old kernel made. */
void dsmvm_hypercall_reset(DsmvmNode *n);

/* reset.c: guest resets on every node; all in the main loop. */
void dsmvm_reset_install(DsmvmNode *n);
/* The guest runs: resets from now on are the guest's (or QMP's). */
void dsmvm_reset_started(DsmvmNode *n);

/* time-sync.c */
void dsmvm_time_install(DsmvmNode *n);
void dsmvm_time_sync(DsmvmNode *n);

/* vcpu-priority.c: lower this process's vCPU threads by vcpu-nice. */
void dsmvm_vcpu_priority_apply(DsmvmNode *n);

/*
 * stats.c: this node's statistics, for the stats property (qom-get) and the
 * stats file; any thread. The caller frees them (qapi_free_DsmvmStats()).
 */
DsmvmStats *dsmvm_stats_get(DsmvmNode *n);
/* Writes them to the stats-file property's file, if set. */
void dsmvm_stats_write(DsmvmNode *n);

#endif
