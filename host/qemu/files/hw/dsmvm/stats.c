/*
 * dsmvm: this node's statistics (DsmvmStats, qapi/qom.json), for qom-get
 * and for the stats file that the launcher's summary is built from.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-qom.h"
#include "qapi/qobject-output-visitor.h"
#include "qobject/qjson.h"
#include "qobject/qobject.h"
#include "hw/core/cpu.h"
#include "dsm.h"
#include "internal.h"

#define HOT_PAGES 10

static DsmvmHotPage *page_stats(uint64_t gpn, const struct dsm_page_count *c)
{
    DsmvmHotPage *p = g_new0(DsmvmHotPage, 1);

    p->gpn = gpn;
    p->faults = c->faults;
    p->invalidations = c->invalidations;
    return p;
}

/* This node's hottest pages, and those named by watch-gpns. */
static void add_pages(DsmvmNode *n, DsmvmStats *s)
{
    struct dsm_page_count hot[HOT_PAGES];
    size_t count = n->dsm ? dsm_hot_pages(n->dsm, hot, HOT_PAGES) : 0;
    DsmvmHotPageList **tail = &s->hot_pages;

    for (size_t i = 0; i < count; i++) {
        QAPI_LIST_APPEND(tail, page_stats(dsmvm_host_to_gpa(hot[i].addr) / 4096,
                                          &hot[i]));
    }
    tail = &s->watched_pages;
    for (int i = 0; i < n->num_watch; i++) {
        struct dsm_page_count c = { 0 };
        void *host = dsmvm_gpa_to_host(n->watch_gpns[i] * 4096, 4096);

        if (n->dsm && host) {
            dsm_page_counts(n->dsm, host, &c);
        }
        QAPI_LIST_APPEND(tail, page_stats(n->watch_gpns[i], &c));
    }
}

DsmvmStats *dsmvm_stats_get(DsmvmNode *n)
{
    DsmvmStats *s = g_new0(DsmvmStats, 1);
    struct dsm_stats st = { 0 };
    intList **vcpus = &s->vcpus;
    CPUState *cpu;

    if (n->dsm) {
        dsm_get_stats(n->dsm, &st);
    }
    s->node = n->node_id;
    CPU_FOREACH(cpu) {
        if (n->cluster &&
            n->cluster->cpu_node[cpu->cpu_index] == (int)n->node_id) {
            QAPI_LIST_APPEND(vcpus, cpu->cpu_index);
        }
    }
    s->device_node = n->cluster && dsmvm_is_device_node(n);
    s->read_faults = st.read_faults;
    s->write_faults = st.write_faults;
    s->faults_remote = st.faults_remote;
    s->faults_local = st.faults_local;
    s->pages_sent = st.pages_sent;
    s->pages_received = st.pages_received;
    s->invalidations_sent = st.invalidations_sent;
    s->invalidations_received = st.invalidations_received;
    s->zero_page_installs = st.zero_page_installs;
    s->bytes_sent = st.bytes_sent;
    s->bytes_received = st.bytes_received;
    s->wu_updates = st.wu_updates;
    s->wu_fallbacks = st.wu_fallbacks;
    s->read_ahead_sent = st.read_ahead_sent;
    s->read_ahead_received = st.read_ahead_received;
    s->exclusive_reads = st.exclusive_reads;
    s->exclusive_upgrades = st.exclusive_upgrades;
    s->migratory_cleared = st.migratory_cleared;
    s->msgs_sent = st.msgs_sent;
    s->msgs_received = st.msgs_received;
    s->io_forwarded = qatomic_read(&n->counters.io_forwarded);
    s->io_served = n->counters.io_served;
    s->irqs_sent = qatomic_read(&n->counters.irqs_sent);
    s->irqs_received = n->counters.irqs_received;
    s->eois_forwarded = qatomic_read(&n->counters.eois_forwarded);
    s->apic_updates_sent = qatomic_read(&n->counters.apic_updates_sent);
    s->tb_flushes_queued = qatomic_read(&n->counters.tb_flushes_queued);
    s->tb_flushes_skipped = qatomic_read(&n->counters.tb_flushes_skipped);
    add_pages(n, s);
    s->exit_reason = g_strdup(n->exit_reason);
    return s;
}

/*
 * The stats file: the same DsmvmStats as qom-get returns, as JSON (the
 * QObject output visitor, then qobject_to_json()). Any thread: the fatal
 * path writes it too. Written atomically (temporary file, then rename) so
 * a reader never sees half of it.
 */
void dsmvm_stats_write(DsmvmNode *n)
{
    g_autoptr(DsmvmStats) s = NULL;
    g_autoptr(GString) json = NULL;
    g_autofree char *tmp = NULL;
    QObject *obj = NULL;
    Visitor *v;

    if (!n->stats_file) {
        return;
    }
    s = dsmvm_stats_get(n);
    v = qobject_output_visitor_new(&obj);
    visit_type_DsmvmStats(v, NULL, &s, &error_abort);
    visit_complete(v, &obj);
    visit_free(v);
    json = qobject_to_json(obj);
    qobject_unref(obj);
    g_string_append_c(json, '\n');
    tmp = g_strdup_printf("%s.tmp", n->stats_file);
    if (!g_file_set_contents(tmp, json->str, json->len, NULL) ||
        rename(tmp, n->stats_file)) {
        error_report("dsmvm node%u: cannot write statistics to %s", n->node_id,
                     n->stats_file);
    }
}
