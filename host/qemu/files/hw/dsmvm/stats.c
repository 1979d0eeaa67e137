/*
 * dsmvm: this node's counters as JSON, for qom-get and for the launcher's
 * summary.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "hw/core/cpu.h"
#include "dsm.h"
#include "internal.h"

#define HOT_PAGES 10

static void append_page(GString *s, const char *sep, uint64_t gpn,
                        const struct dsm_page_count *c)
{
    g_string_append_printf(s, "%s{\"gpn\": %" PRIu64 ", \"faults\": %u, "
                           "\"invalidations\": %u}",
                           sep, gpn, c->faults, c->invalidations);
}

/*
 * "hot_pages": this node's hottest pages; "watched_pages": those named by
 * watch-gpns.
 */
static void append_pages(DsmvmNode *n, GString *s)
{
    struct dsm_page_count hot[HOT_PAGES];
    size_t count = n->dsm ? dsm_hot_pages(n->dsm, hot, HOT_PAGES) : 0;

    g_string_append(s, ", \"hot_pages\": [");
    for (size_t i = 0; i < count; i++) {
        append_page(s, i ? ", " : "", dsmvm_host_to_gpa(hot[i].addr) / 4096,
                    &hot[i]);
    }
    g_string_append(s, "], \"watched_pages\": [");
    for (int i = 0; i < n->num_watch; i++) {
        struct dsm_page_count c = { 0 };
        void *host = dsmvm_gpa_to_host(n->watch_gpns[i] * 4096, 4096);

        if (n->dsm && host) {
            dsm_page_counts(n->dsm, host, &c);
        }
        append_page(s, i ? ", " : "", n->watch_gpns[i], &c);
    }
    g_string_append(s, "]");
}

char *dsmvm_stats_json(DsmvmNode *n)
{
    GString *s = g_string_new("{");
    struct dsm_stats st = { 0 };
    CPUState *cpu;
    const char *sep = "";

    if (n->dsm) {
        dsm_get_stats(n->dsm, &st);
    }
    g_string_append_printf(s, "\"node\": %u, \"vcpus\": [", n->node_id);
    CPU_FOREACH(cpu) {
        if (n->cluster &&
            n->cluster->cpu_node[cpu->cpu_index] == (int)n->node_id) {
            g_string_append_printf(s, "%s%d", sep, cpu->cpu_index);
            sep = ", ";
        }
    }
    g_string_append_printf(s, "], \"device_node\": %s",
                           n->cluster && dsmvm_is_device_node(n) ?
                           "true" : "false");
#define FIELD(name, value) \
    g_string_append_printf(s, ", \"" name "\": %" PRIu64, (uint64_t)(value))
    FIELD("read_faults", st.read_faults);
    FIELD("write_faults", st.write_faults);
    FIELD("faults_remote", st.faults_remote);
    FIELD("faults_local", st.faults_local);
    FIELD("pages_sent", st.pages_sent);
    FIELD("pages_received", st.pages_received);
    FIELD("invalidations_sent", st.invalidations_sent);
    FIELD("invalidations_received", st.invalidations_received);
    FIELD("zero_page_installs", st.zero_page_installs);
    FIELD("bytes_sent", st.bytes_sent);
    FIELD("bytes_received", st.bytes_received);
    FIELD("wu_updates", st.wu_updates);
    FIELD("wu_fallbacks", st.wu_fallbacks);
    FIELD("read_ahead_sent", st.read_ahead_sent);
    FIELD("read_ahead_received", st.read_ahead_received);
    FIELD("msgs_sent", st.msgs_sent);
    FIELD("msgs_received", st.msgs_received);
    FIELD("io_forwarded", qatomic_read(&n->counters.io_forwarded));
    FIELD("io_served", n->counters.io_served);
    FIELD("irqs_sent", qatomic_read(&n->counters.irqs_sent));
    FIELD("irqs_received", n->counters.irqs_received);
    FIELD("eois_forwarded", qatomic_read(&n->counters.eois_forwarded));
    FIELD("apic_updates_sent", qatomic_read(&n->counters.apic_updates_sent));
    FIELD("tb_flushes_queued", qatomic_read(&n->counters.tb_flushes_queued));
    FIELD("tb_flushes_skipped", qatomic_read(&n->counters.tb_flushes_skipped));
#undef FIELD
    append_pages(n, s);
    g_string_append(s, ", \"exit_reason\": \"");
    for (const char *p = n->exit_reason; *p; p++) {
        g_string_append_c(s, (*p == '"' || *p == '\\') ? '\'' : *p);
    }
    g_string_append(s, "\"}");
    return g_string_free(s, false);
}

/*
 * Written atomically (temporary file, then rename) so a reader never sees
 * half of it.
 */
void dsmvm_stats_write(DsmvmNode *n)
{
    g_autofree char *json = NULL;
    g_autofree char *tmp = NULL;

    if (!n->stats_file) {
        return;
    }
    json = dsmvm_stats_json(n);
    tmp = g_strdup_printf("%s.tmp", n->stats_file);
    if (!g_file_set_contents(tmp, json, -1, NULL) ||
        rename(tmp, n->stats_file)) {
        error_report("dsmvm node%u: cannot write statistics to %s", n->node_id,
                     n->stats_file);
    }
}
