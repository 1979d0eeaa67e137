/*
 * dsmvm: state shared by the files of the QEMU side of a node.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_DSMVM_INTERNAL_H
#define HW_DSMVM_INTERNAL_H

#include "qemu/thread.h"
#include "qemu/notify.h"
#include "qom/object.h"
#include "exec/memory.h"
#include "hw/dsmvm/dsmvm.h"
#include "cluster.h"
#include "wire.h"

OBJECT_DECLARE_SIMPLE_TYPE(DsmvmNode, DSMVM_NODE)

#define DSMVM_IO_OVERLAYS 8

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

struct DsmvmNode {
    Object parent_obj;

    /* properties */
    uint32_t node_id;
    char *cluster_path;
    char *stats_file;
    uint64_t *watch_gpns;       /* pages whose counters the stats report */
    int num_watch;

    DsmvmCluster *cluster;
    struct dsm *dsm;
    Notifier machine_done;
    Notifier shutdown;
    Notifier exit;

    /*
     * Messages from the DSM's receive thread that need the BQL wait here for
     * the main loop.
     */
    QemuMutex inbox_lock;
    GQueue inbox;
    QEMUBH *inbox_bh;

    /*
     * Requests waiting for a reply (I/O, clock samples); woken by the receive
     * thread.
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
    MemoryRegion overlays[DSMVM_IO_OVERLAYS];
};

/* The node object; NULL when this QEMU is not part of a cluster. */
extern DsmvmNode *dsmvm_node;

static inline bool dsmvm_is_device_node(DsmvmNode *n)
{
    return (int)n->node_id == n->cluster->device_node;
}

/* Sends msg to node dst; a failure to send ends this node. */
void dsmvm_send(DsmvmNode *n, int dst, const void *msg, size_t len);
void dsmvm_broadcast(DsmvmNode *n, const void *msg, size_t len);

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

/* io-forward.c */
void dsmvm_io_install_overlays(DsmvmNode *n);
void dsmvm_io_bios_area_as_ram(DsmvmNode *n);
void dsmvm_io_serve(DsmvmNode *n, int src, const DsmvmMsgIoReq *req);

/* irq-forward.c */
void dsmvm_irq_handle(DsmvmNode *n, int src, unsigned type, const void *msg);

/* hypercall.c */
void dsmvm_hypercall_install(DsmvmNode *n);
void dsmvm_hypercall_handle(DsmvmNode *n, int src,
                            const DsmvmMsgWuRegister *req);
/* The guest reset: forget the write-update areas its old kernel made. */
void dsmvm_hypercall_reset(DsmvmNode *n);

/* reset.c: guest resets on every node; all in the main loop. */
void dsmvm_reset_install(DsmvmNode *n);
/* The guest runs: resets from now on are the guest's (or QMP's). */
void dsmvm_reset_started(DsmvmNode *n);
void dsmvm_reset_handle(DsmvmNode *n, int src, unsigned type,
                        const DsmvmMsgReset *m);

/* time-sync.c */
void dsmvm_time_serve(DsmvmNode *n, int src, const DsmvmMsgTime *req);
void dsmvm_time_sync(DsmvmNode *n);

/* stats.c */
char *dsmvm_stats_json(DsmvmNode *n);
void dsmvm_stats_write(DsmvmNode *n);

#endif
