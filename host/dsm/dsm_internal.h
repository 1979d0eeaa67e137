/* dsm_internal.h - state shared by the library's files (not public). */
#ifndef DSM_INTERNAL_H
#define DSM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dsm.h"
#include "home.h"
#include "proto.h"
#include "transport.h"
#include "uffd.h"

/* Local page states (the host page table mirrors them). */
enum dsm_page_state {
    DSM_PS_INVALID = 0,   /* absent: any access faults (MISSING) */
    DSM_PS_SHARED,        /* present, write-protected */
    DSM_PS_MODIFIED,      /* present, writable; this node is the owner */
    DSM_PS_EXCLUSIVE,     /* present, write-protected; the owner, no other copy: the
                           * first store makes it Modified without any message */
};

/* DSM_PEND_XREAD: a read fault asked as a write (exclusive_reads). */
enum dsm_pending { DSM_PEND_NONE = 0, DSM_PEND_READ, DSM_PEND_WRITE, DSM_PEND_XREAD };

/* Bits of dsm_page.hints (exclusive_reads). */
enum {
    DSM_HINT_READ_COPY = 1,   /* the Shared copy here came from a read fault of this node */
    DSM_HINT_MIGRATORY = 2,   /* that copy was then upgraded: ask exclusively next time */
};

struct dsm_page {
    uint8_t state;
    uint8_t pending;      /* a request for this page is in flight */
    uint8_t policy;       /* enum dsm_policy */
    uint8_t hints;        /* DSM_HINT_* */
    uint8_t pad[4];
    uint64_t fault_start_ns;
    uint32_t faults;        /* read and write faults taken here (dsm_hot_pages) */
    uint32_t invalidations; /* copies of it invalidated here */
};

/* A request being served, or queued, by the page's manager. */
struct dsm_mop {
    uint8_t type;         /* DSM_MSG_READ_REQ / WRITE_REQ / WU_REQ */
    uint8_t requester;
    uint8_t remote;       /* another node had to take part */
    uint8_t fetched;      /* WU: content is in data */
    int acks;             /* INV_ACK / WU_ACK still expected */
    uint32_t wu_off, wu_len;
    struct dsm_mop *next;
    uint8_t *data;        /* WU: the new page content (DSM_PAGE_SIZE) */
};

#define DSM_NO_OWNER (-1)

/* Manager view of a page this node manages (page % n == self). */
struct dsm_mpage {
    int8_t owner;         /* node holding the valid copy, or DSM_NO_OWNER (zero page) */
    uint8_t write_shared; /* a write had to invalidate a copy: never sent ahead again */
    uint8_t pad[6];
    uint64_t copyset;     /* nodes holding Shared copies */
    struct dsm_mop *op;   /* current request (head), others queued behind via next */
    struct dsm_mop *tail;
};

struct dsm_region {
    uint8_t *base;
    size_t size;
    uint64_t first_page;
    uint64_t npages;
};

struct dsm_local_msg {
    struct dsm_local_msg *next;
    struct dsm_msg_hdr h;
    uint8_t payload[];
};

#define DSM_MAX_TRACKED 256

/* A local request in flight: its page, and the faulting thread and byte that the
 * fault_end probe names (one probe per fault instead of a start and an end). */
struct dsm_inflight {
    uint64_t page;
    uint32_t tid;
    uint16_t in_page;
};

struct dsm {
    struct dsm_config cfg;
    struct dsm_callbacks cb;
    int self, n;
    char shm_name[128];
    char **tcp_addrs;              /* private copy of tcp_addrs or rdma_addrs */
    uint8_t *secret;

    struct dsm_region regions[DSM_MAX_REGIONS];
    int nregions;
    uint64_t total_pages;
    struct dsm_page *pages;
    struct dsm_home_map homes;         /* which node manages each page */
    struct dsm_mpage *mpages;          /* pages this node manages, by dsm_home_slot() */
    uint64_t nmpages;

    pthread_mutex_t lock;              /* protects all protocol state */
    pthread_cond_t cond;               /* barrier / write-update / bye / ping waiters */
    struct dsm_local_msg *lq_head, *lq_tail;  /* messages to self */

    int uffd;
    struct dsm_uffd_features uffd_features;
    int wake_fd;                        /* eventfd: stop or failure to report */
    pthread_t fault_thread;
    int started;
    atomic_int stopping;

    struct dsm_transport *tr;

    /* in-flight local requests, for timeouts, failure reports and the fault_end probe */
    struct dsm_inflight tracked[DSM_MAX_TRACKED];
    int ntracked;

    atomic_uint_fast64_t failed_mask;   /* peers that died or misbehaved */
    atomic_uint_fast64_t reported_mask; /* failures already passed to the callback */
    atomic_uint_fast64_t bye_mask;      /* peers that left in order */
    char fail_reason[DSM_MAX_NODES][192];

    uint64_t barrier_epoch, barrier_released;
    int barrier_count[2];

    pthread_mutex_t wu_serial;          /* one dsm_write_update in flight per node */
    int wu_done;

    uint64_t ping_seq_tx, ping_seq_rx;

    struct dsm_stats stats;             /* updated with relaxed atomics */
};

#define DSM_STAT_ADD(d, field, v) \
    __atomic_fetch_add(&(d)->stats.field, (uint64_t)(v), __ATOMIC_RELAXED)

/* log.c */
void dsm_logf(struct dsm *d, enum dsm_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* stats.c */
void dsm_stats_record_latency(struct dsm *d, uint64_t ns);
uint64_t dsm_now_ns(void);

/* ivy.c: protocol; callers hold d->lock unless noted */
uint64_t dsm_page_index(struct dsm *d, const void *addr, int *ok);
uint8_t *dsm_page_addr(struct dsm *d, uint64_t page);
/* addr: the faulting address (exact when the kernel reports it), tid: the
 * faulting thread or 0. Called with the lock held. */
void dsm_handle_fault(struct dsm *d, uintptr_t addr, int is_write, uint32_t tid);
int dsm_dispatch(struct dsm *d, int src, const struct dsm_msg_hdr *h, const void *payload,
                 char *err, size_t errlen);
void dsm_drain_local(struct dsm *d);
void dsm_send(struct dsm *d, int dst, unsigned type, uint64_t page, uint64_t arg,
              uint32_t flags, const void *payload, uint32_t len);
void dsm_mark_failed(struct dsm *d, int node, const char *reason);  /* any thread */

/* dsm.c: for the bench (transport round trip with a 4 KiB reply); ns, or
 * -ETIMEDOUT / -EPIPE */
int64_t dsm_ping(struct dsm *d, int node, uint32_t reply_len);
/* dsm.c: first half of dsm_start (descriptors, userfaultfd registration;
 * 0 or -errno with a message in err), and the receive entry point
 * (validate, then dispatch; -1 with err: malformed); the state-machine
 * fuzzer and dsm-mc drive them with a fake transport and no threads. */
int dsm_prepare(struct dsm *d, char *err, size_t errlen);
int dsm_deliver(void *ctx, int src, const struct dsm_msg_hdr *h, const void *payload,
                char *err, size_t errlen);

#endif
