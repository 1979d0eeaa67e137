/*
 * dsmvm-node: this QEMU process is one node of a guest that several QEMU
 * processes run together.
 *
 *   -object dsmvm-node,id=dsmvm,node=1,cluster=/etc/dsmvm/guest.conf
 *           [,stats-file=PATH][,watch-gpns=GPN,watch-gpns=GPN...]
 *
 * Every node is started with the same machine, -smp, -m and devices. Guest
 * RAM is handed to host/dsm (Ivy DSM over userfaultfd); each node runs the
 * vCPUs the cluster description gives it and parks the others; devices are
 * real only on the device node, which serves the port and MMIO accesses of
 * the others; interrupts are forwarded to the node of their target vCPU.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-builtin-visit.h"
#include "qapi/qapi-visit-qom.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/accel.h"
#include "qemu/cutils.h"
#include "qom/object_interfaces.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "system/system.h"
#include "system/runstate.h"
#include "system/kvm.h"
#include "system/tcg.h"
#include "exec/cpu-common.h"
#include "exec/exec-all.h"
#include "exec/ram_addr.h"
#include "dsm.h"
#include "internal.h"
#include "../../dsmvm-hypercalls/dsmvm-hypercall.h"
#include "trace.h"

OBJECT_DEFINE_SIMPLE_TYPE_WITH_INTERFACES(DsmvmNode, dsmvm_node, DSMVM_NODE,
                                          OBJECT, { TYPE_USER_CREATABLE }, { })

void dsmvm_fatal(DsmvmNode *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(n->exit_reason, sizeof(n->exit_reason), fmt, ap);
    va_end(ap);
    trace_dsmvm_fatal(n->exit_reason);
    qatomic_set(&n->fatal, true);
    error_report("dsmvm node%u: %s; stopping this node", n->node_id,
                 n->exit_reason);
    dsmvm_stats_write(n);
    fflush(stderr);
    /*
     * Not exit(): the DSM's own threads may be the caller, and vCPUs may be
     * blocked on it.
     */
    _exit(1);
}

/* --- messages that belong to the node's lifecycle ------------------------ */

/* Main loop: a peer saw the guest power off. */
static void dsmvm_shutdown_main_loop(DsmvmNode *n, int src, const void *msg)
{
    info_report("dsmvm node%u: node%d powered the guest off",
                n->node_id, src);
    snprintf(n->exit_reason, sizeof(n->exit_reason),
             "guest shutdown (from node%d)", src);
    qemu_system_shutdown_request(SHUTDOWN_CAUSE_GUEST_SHUTDOWN);
}

/*
 * Receive thread: from now on a peer's departure is the shutdown, not a
 * failure (the peer may leave before the main loop runs).
 */
static void dsmvm_shutdown_receive(DsmvmNode *n, int src, const void *msg)
{
    qatomic_set(&n->shutting_down, true);
    dsmvm_inbox_push(n, dsmvm_shutdown_main_loop, src, msg,
                     sizeof(DsmvmMsgShutdown));
}

/* Not a message: translations to drop, queued by dsmvm_page_replaced(). */
typedef struct DsmvmTbFlush {
    ram_addr_t start;
    size_t len;
} DsmvmTbFlush;

static void dsmvm_tb_flush(DsmvmNode *n, int src, const void *data)
{
    const DsmvmTbFlush *f = data;

    trace_dsmvm_tb_flush(f->start, f->len);
    tb_invalidate_phys_range(f->start, f->start + f->len - 1);
}

/* --- host/dsm callbacks ------------------------------------------------- */

/*
 * A page's content changed here (arrived, left, or was invalidated): TCG must
 * not run code translated from the old one. Dropping translations takes TCG's
 * page locks, which a vCPU may hold while it waits for this very thread to
 * resolve its fault; so the drop is queued for the main loop, in order with
 * the messages that follow (an IPI telling a vCPU to run new code comes after).
 */
static void dsmvm_page_replaced(void *opaque, void *host_addr, size_t len)
{
    DsmvmNode *n = opaque;
    DsmvmTbFlush f;
    ram_addr_t ram_addr;

    if (!tcg_enabled()) {
        return;
    }
    ram_addr = qemu_ram_addr_from_host(host_addr);
    if (ram_addr == RAM_ADDR_INVALID) {
        return;
    }
    /*
     * TCG clears a page's DIRTY_MEMORY_CODE bit when it links the first
     * translation of it, and sets it again once none is left: with the bit
     * set there is nothing to drop, and most pages (data) never hold code.
     * Skipping the main-loop round trip for them is most of a fault's
     * wake-ups. (A translation still in progress when the content changes
     * is the usual cross-modifying-code case: the guest must synchronise
     * with the writer before running the new code, as on real hardware.)
     */
    if (cpu_physical_memory_all_dirty(ram_addr, len, DIRTY_MEMORY_CODE)) {
        qatomic_inc(&n->counters.tb_flushes_skipped);
        trace_dsmvm_tb_flush_skipped(ram_addr, len);
        return;
    }
    qatomic_inc(&n->counters.tb_flushes_queued);
    trace_dsmvm_tb_flush_queued(ram_addr, len);
    f = (DsmvmTbFlush){ ram_addr, len };
    dsmvm_inbox_push(n, dsmvm_tb_flush, n->node_id, &f, sizeof(f));
}

static void dsmvm_peer_failed(void *opaque, int node, const char *reason)
{
    DsmvmNode *n = opaque;

    trace_dsmvm_peer_failed(node, qatomic_read(&n->shutting_down), reason);
    if (qatomic_read(&n->fatal)) {
        /*
         * This node is already ending (a start-up check failed and the main
         * thread is exiting): the reason it gave stands.
         */
        return;
    }
    if (qatomic_read(&n->shutting_down)) {
        /* The guest is powering off and the peer has left first. */
        if (!n->exit_reason[0]) {
            snprintf(n->exit_reason, sizeof(n->exit_reason), "guest shutdown");
        }
        dsmvm_stats_write(n);
        _exit(0);
    }
    dsmvm_fatal(n, "node%d failed: %s", node, reason);
}

static void dsmvm_log(void *opaque, enum dsm_log_level level, const char *msg)
{
    DsmvmNode *n = opaque;

    if (level == DSM_LOG_ERROR) {
        error_report("dsmvm node%u: %s", n->node_id, msg);
    } else if (level == DSM_LOG_WARN) {
        warn_report("dsmvm node%u: %s", n->node_id, msg);
    } else {
        info_report("dsmvm node%u: %s", n->node_id, msg);
    }
}

/* --- start-up ----------------------------------------------------------- */

static void dsmvm_make_fingerprint(DsmvmNode *n, MachineState *ms,
                                   const char *homes)
{
    snprintf(n->fingerprint, sizeof(n->fingerprint),
             "version=1;cluster=%.16s;machine=%s;accel=%s;smp=%u;maxcpus=%u;"
             "ram=%" PRIu64 ";nodes=%d;guest-features=%u;ram-homes=%s",
             n->cluster->digest, object_get_typename(OBJECT(ms)),
             current_accel_name(), ms->smp.cpus, ms->smp.max_cpus,
             (uint64_t)ms->ram_size, n->cluster->num_nodes,
             n->guest_features, homes);
}

static void dsmvm_vm_state_change(void *opaque, bool running, RunState state)
{
    DsmvmNode *n = opaque;

    if (!running) {
        return;
    }
    dsmvm_reset_started(n);
    if (!dsmvm_is_device_node(n)) {
        dsmvm_io_bios_area_as_ram(n);
        dsmvm_time_sync(n);
    }
}

/*
 * Main thread, once the machine exists and before any vCPU runs: checks the
 * machine against the cluster description, puts guest RAM under the DSM,
 * connects to every peer and checks that they agree.
 */
static bool dsmvm_node_start(DsmvmNode *n, Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    const DsmvmCluster *c = n->cluster;
    struct dsm_config cfg;
    struct dsm_callbacks cb = {
        .opaque = n,
        .page_replaced = dsmvm_page_replaced,
        .peer_failed = dsmvm_peer_failed,
        .app_message = dsmvm_app_message,
        .log = dsmvm_log,
    };
    char err[256];
    char homes[64];
    CPUState *cpu;
    int local_cpus = 0;

    if (kvm_enabled() && kvm_irqchip_in_kernel()) {
        error_setg(errp, "under KVM a distributed guest needs the userspace "
                   "interrupt controller: add kernel-irqchip=off to -machine "
                   "(or -accel kvm,kernel-irqchip=off)");
        return false;
    }
    if (ms->smp.cpus != (unsigned)c->num_cpus ||
        ms->smp.max_cpus != ms->smp.cpus) {
        error_setg(errp, "-smp says %u vCPUs (max %u) but the cluster "
                   "description assigns %d; they must agree "
                   "(and CPU hotplug is not supported)",
                   ms->smp.cpus, ms->smp.max_cpus, c->num_cpus);
        return false;
    }
    if (ms->smp.max_cpus > DSMVM_MAX_CPUS) {
        error_setg(errp, "%u vCPUs: a distributed guest has at most %d",
                   ms->smp.max_cpus, DSMVM_MAX_CPUS);
        return false;
    }
    if (!ms->ram) {
        error_setg(errp, "the machine has no RAM to share");
        return false;
    }
    CPU_FOREACH(cpu) {
        bool remote = c->cpu_node[cpu->cpu_index] != (int)n->node_id;

        if (remote) {
            set_bit(cpu->cpu_index, n->remote_cpus);
        }
        local_cpus += !remote;
    }

    dsm_config_init(&cfg);
    cfg.node_id = n->node_id;
    cfg.num_nodes = c->num_nodes;
    cfg.transport = c->transport == DSMVM_TRANSPORT_SHM  ? DSM_TRANSPORT_SHM :
                    c->transport == DSMVM_TRANSPORT_RDMA ? DSM_TRANSPORT_RDMA :
                                                           DSM_TRANSPORT_TCP;
    cfg.tcp_addrs = (const char *const *)c->addresses;
    cfg.rdma_addrs = (const char *const *)c->addresses;
    cfg.shm_name = c->shm_name;
    cfg.secret = c->secret;
    cfg.secret_len = strlen(c->secret);
    cfg.connect_timeout_ms = c->connect_timeout_s * 1000;
    cfg.read_ahead_pages = c->read_ahead_pages;
    cfg.exclusive_reads = (unsigned)c->exclusive_reads;
    n->dsm = dsm_create(&cfg, &cb, err, sizeof(err));
    if (!n->dsm) {
        error_setg(errp, "cannot create the DSM: %s", err);
        return false;
    }
    if (!dsmvm_ram_register(n, ms, homes, sizeof(homes), errp)) {
        return false;
    }
    /*
     * Before connecting: a peer's HELLO, or a peer that is already running,
     * may send as soon as we are connected.
     */
    dsmvm_make_fingerprint(n, ms, homes);
    dsmvm_hello_install(n);
    dsmvm_register_handler(n, DSMVM_MSG_SHUTDOWN, DSMVM_CTX_RECEIVE,
                           sizeof(DsmvmMsgShutdown), dsmvm_shutdown_receive);
    if (!dsmvm_io_install(n, errp)) {
        return false;
    }
    dsmvm_irq_install(n);
    dsmvm_time_install(n);
    dsmvm_hypercall_install(n);
    dsmvm_reset_install(n);
    info_report("dsmvm node%u of %d: waiting up to %d s for the peers "
                "(%s transport)",
                n->node_id, c->num_nodes, c->connect_timeout_s,
                c->transport == DSMVM_TRANSPORT_SHM ? "shm" :
                c->transport == DSMVM_TRANSPORT_RDMA ? "rdma" : "tcp");
    if (dsm_start(n->dsm, err, sizeof(err)) < 0) {
        error_setg(errp, "cannot connect to the cluster: %s", err);
        return false;
    }
    if (!dsmvm_hello_exchange(n, errp)) {
        return false;
    }
    info_report("dsmvm node%u: all %d nodes connected; "
                "this node runs %d of %d vCPUs%s",
                n->node_id, c->num_nodes, local_cpus, ms->smp.cpus,
                dsmvm_is_device_node(n) ? " and the devices" : "");

    dsmvm_vcpu_priority_apply(n);
    qemu_add_vm_change_state_handler(dsmvm_vm_state_change, n);
    return true;
}

static void dsmvm_machine_done(Notifier *notifier, void *data)
{
    DsmvmNode *n = container_of(notifier, DsmvmNode, machine_done);
    Error *err = NULL;

    if (dsmvm_node_start(n, &err)) {
        return;
    }
    /*
     * A notifier has no errp: one message, in the form of dsmvm_fatal()'s
     * that the launcher looks for, the statistics with the reason (the exit
     * notifier writes them) and exit status 1. Marked fatal so that the
     * exit notifier does not leave the cluster in order: the peers see this
     * node fail.
     */
    pstrcpy(n->exit_reason, sizeof(n->exit_reason), error_get_pretty(err));
    trace_dsmvm_start_failed(n->exit_reason);
    qatomic_set(&n->fatal, true);
    error_report("dsmvm node%u: %s; stopping this node", n->node_id,
                 error_get_pretty(err));
    error_free(err);
    exit(1);
}

static void dsmvm_shutdown_notify(Notifier *notifier, void *data)
{
    DsmvmNode *n = container_of(notifier, DsmvmNode, shutdown);
    DsmvmMsgShutdown m = { .h = { DSMVM_WIRE_MAGIC, DSMVM_MSG_SHUTDOWN } };

    if (!n->dsm) {
        return;
    }
    /* The node that saw the guest power off tells the others. */
    if (!qatomic_xchg(&n->shutting_down, true)) {
        snprintf(n->exit_reason, sizeof(n->exit_reason), "guest shutdown");
        dsmvm_broadcast(n, &m, sizeof(m));
    }
}

static void dsmvm_exit_notify(Notifier *notifier, void *data)
{
    DsmvmNode *n = container_of(notifier, DsmvmNode, exit);

    if (!n->exit_reason[0]) {
        snprintf(n->exit_reason, sizeof(n->exit_reason), "QEMU exit");
    }
    dsmvm_stats_write(n);
    if (n->dsm && !qatomic_read(&n->fatal)) {
        qatomic_set(&n->shutting_down, true);
        dsm_stop(n->dsm);
    }
}

static void dsmvm_node_complete(UserCreatable *uc, Error **errp)
{
    DsmvmNode *n = DSMVM_NODE(uc);

    if (dsmvm_node) {
        error_setg(errp, "only one " TYPE_DSMVM_NODE " object is allowed");
        return;
    }
    if (!n->cluster_path) {
        error_setg(errp, TYPE_DSMVM_NODE ": the cluster property "
                   "(path of the cluster description) is required");
        return;
    }
    /* Each feature needs the ones below it: 0, 1, 3 or 7. */
    if (n->guest_features & (n->guest_features + 1) ||
        n->guest_features > DSMVM_FEATURES_ALL) {
        error_setg(errp, TYPE_DSMVM_NODE
                   ": guest-features must be 0, 1, 3 or 7, not %u",
                   n->guest_features);
        return;
    }
    n->cluster = dsmvm_cluster_load(n->cluster_path, errp);
    if (!n->cluster) {
        return;
    }
    if (n->node_id >= (uint32_t)n->cluster->num_nodes) {
        error_setg(errp, TYPE_DSMVM_NODE
                   ": node=%u but %s describes nodes 0..%d",
                   n->node_id, n->cluster_path, n->cluster->num_nodes - 1);
        return;
    }
    dsmvm_dispatch_init(n);
    dsmvm_request_init(n);
    n->machine_done.notify = dsmvm_machine_done;
    qemu_add_machine_init_done_notifier(&n->machine_done);
    n->shutdown.notify = dsmvm_shutdown_notify;
    qemu_register_shutdown_notifier(&n->shutdown);
    n->exit.notify = dsmvm_exit_notify;
    qemu_add_exit_notifier(&n->exit);
    /*
     * The DSM's threads and the exit notifier use the node until the process
     * ends, but qemu_cleanup() unparents every user-creatable object before
     * the exit notifiers run: keep the node alive for them.
     */
    object_ref(OBJECT(n));
    dsmvm_node = n;
    dsmvm_active = true;
}

static char *dsmvm_get_cluster(Object *obj, Error **errp)
{
    return g_strdup(DSMVM_NODE(obj)->cluster_path);
}

static void dsmvm_set_cluster(Object *obj, const char *value, Error **errp)
{
    DsmvmNode *n = DSMVM_NODE(obj);

    g_free(n->cluster_path);
    n->cluster_path = g_strdup(value);
}

static char *dsmvm_get_stats_file(Object *obj, Error **errp)
{
    return g_strdup(DSMVM_NODE(obj)->stats_file);
}

static void dsmvm_set_stats_file(Object *obj, const char *value, Error **errp)
{
    DsmvmNode *n = DSMVM_NODE(obj);

    g_free(n->stats_file);
    n->stats_file = g_strdup(value);
}

static void dsmvm_get_watch_gpns(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    DsmvmNode *n = DSMVM_NODE(obj);
    uint64List *list = NULL, **tail = &list;

    for (int i = 0; i < n->num_watch; i++) {
        QAPI_LIST_APPEND(tail, n->watch_gpns[i]);
    }
    visit_type_uint64List(v, name, &list, errp);
    qapi_free_uint64List(list);
}

/*
 * A list, so that any number of pages passes -object
 * (watch-gpns=GPN,watch-gpns=GPN).
 */
static void dsmvm_set_watch_gpns(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    DsmvmNode *n = DSMVM_NODE(obj);
    uint64List *list = NULL;
    int count = 0;

    if (!visit_type_uint64List(v, name, &list, errp)) {
        return;
    }
    for (uint64List *l = list; l; l = l->next) {
        count++;
    }
    g_free(n->watch_gpns);
    n->watch_gpns = g_new(uint64_t, count);
    n->num_watch = 0;
    for (uint64List *l = list; l; l = l->next) {
        n->watch_gpns[n->num_watch++] = l->value;
    }
    qapi_free_uint64List(list);
}

static void dsmvm_get_stats(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    g_autoptr(DsmvmStats) stats = dsmvm_stats_get(DSMVM_NODE(obj));

    visit_type_DsmvmStats(v, name, &stats, errp);
}

static void dsmvm_node_init(Object *obj)
{
    DsmvmNode *n = DSMVM_NODE(obj);

    object_property_add_uint32_ptr(obj, "node", &n->node_id,
                                   OBJ_PROP_FLAG_READWRITE);
    object_property_set_description(obj, "node",
                                    "this node's id in the cluster");
    n->guest_features = DSMVM_FEATURES_ALL;
    object_property_add_uint32_ptr(obj, "guest-features", &n->guest_features,
                                   OBJ_PROP_FLAG_READWRITE);
    object_property_set_description(obj, "guest-features",
                                    "hypercall features offered to the guest (bit 0 doorbell, "
                                    "bit 1 write-update, bit 2 write-update publish; 0 hides "
                                    "the host); the same on every node");
}

static void dsmvm_node_finalize(Object *obj)
{
    g_free(DSMVM_NODE(obj)->watch_gpns);
}

static void dsmvm_node_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = dsmvm_node_complete;
    object_class_property_add_str(oc, "cluster", dsmvm_get_cluster,
                                  dsmvm_set_cluster);
    object_class_property_set_description(oc, "cluster",
                                          "path of the cluster description every node reads");
    object_class_property_add_str(oc, "stats-file", dsmvm_get_stats_file,
                                  dsmvm_set_stats_file);
    object_class_property_set_description(oc, "stats-file",
                                          "where to write this node's statistics (JSON) at exit");
    object_class_property_add(oc, "watch-gpns", "uint64List",
                              dsmvm_get_watch_gpns, dsmvm_set_watch_gpns,
                              NULL, NULL);
    object_class_property_set_description(oc, "watch-gpns",
                                          "guest page numbers whose DSM counters the "
                                          "statistics report (a list: watch-gpns=GPN,watch-gpns=GPN)");
    object_class_property_add(oc, "stats", "DsmvmStats", dsmvm_get_stats,
                              NULL, NULL, NULL);
    object_class_property_set_description(oc, "stats",
                                          "DSM and forwarding counters and the hot and watched "
                                          "pages (DsmvmStats), read with qom-get");
}
