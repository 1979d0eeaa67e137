/* json.c - the report for machines (--json). */
#include <inttypes.h>
#include <stdlib.h>

#include "prof.h"

#define JSON_SYMS 32

static void page_json(const struct prof *p, const struct prof_page *pg, FILE *f)
{
    char buf[256];
    const char *names[JSON_SYMS];
    size_t ns = p->have_kmap ? kmap_page_symbols(&p->kmap, pg->gpn, names, JSON_SYMS) : 0;
    fprintf(f, "    {\"gpn\": %" PRIu64 ", \"faults\": %" PRIu64 ", \"cross_node_writes\": %" PRIu64
            ", \"owner_changes\": %" PRIu64 ", \"mean_latency_ns\": %" PRIu64 ", \"verdict\": ",
            pg->gpn, pg->faults, pg->xwrites, pg->owner_changes,
            pg->lat_count ? pg->lat_sum_ns / pg->lat_count : 0);
    json_string(f, prof_verdict_names[pg->verdict]);
    fprintf(f, ",\n     \"nodes\": [");
    for (int i = 0; i < p->nodes; i++) {
        fprintf(f, "%s{\"node\": %d, \"reads\": %" PRIu64 ", \"writes\": %" PRIu64
                ", \"invalidations\": %" PRIu64 "}", i ? ", " : "", i, pg->reads[i],
                pg->writes[i], pg->invals[i]);
    }
    fprintf(f, "],\n     \"symbols\": [");
    for (size_t i = 0; i < ns; i++) {
        fputs(i ? ", " : "", f);
        json_string(f, names[i]);
    }
    fprintf(f, "],\n     \"accesses\": [");
    for (size_t i = 0; i < pg->nacc; i++) {
        const struct prof_access *x = &pg->acc[i];
        access_data_name(p, pg->gpn, x->off, buf, sizeof(buf));
        fprintf(f, "%s\n       {\"node\": %d, \"write\": %s, \"offset\": %u, \"data_symbol\": ",
                i ? "," : "", x->node, x->write ? "true" : "false", x->off);
        json_string(f, buf);
        fprintf(f, ", \"code_symbol\": ");
        json_string(f, p->codes[x->code]);
        fprintf(f, ", \"faults\": %" PRIu64 "}", x->faults);
    }
    fprintf(f, "]}");
}

void report_json(const struct prof *p, const struct prof_opts *o, const size_t *order, FILE *f)
{
    uint64_t total = 0, remote = 0, local = 0, recv = 0;
    for (int i = 0; i < p->nodes; i++) {
        total += p->node[i].faults;
        remote += p->node[i].remote;
        local += p->node[i].local;
        recv += p->node[i].received;
    }
    const double q[] = { 0.5, 0.9, 0.99 };
    uint64_t l[3];
    prof_latency_percentiles(p, q, l, 3);
    fprintf(f, "{\n  \"run\": ");
    json_string(f, p->dir);
    if (o->window && o->window_to >= 0) {
        fprintf(f, ",\n  \"window_s\": [%g, %g]", o->window_from, o->window_to);
    } else if (o->window) {
        fprintf(f, ",\n  \"window_s\": [%g, null]", o->window_from);
    }
    fprintf(f, ",\n  \"summary\": {\"total_faults\": %" PRIu64 ", \"remote_faults\": %" PRIu64
            ", \"local_faults\": %" PRIu64 ", \"distinct_pages\": %zu, \"bytes_moved\": %" PRIu64
            ", \"latency_ns\": {\"p50\": %" PRIu64 ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64
            "},\n    \"classes\": {", total, remote, local, p->npages,
            recv * PROF_PAGE_SIZE, l[0], l[1], l[2]);
    for (int i = 0; i < CLS_COUNT; i++) {
        fputs(i ? ", " : "", f);
        json_string(f, prof_class_names[i]);
        fprintf(f, ": %" PRIu64, p->class_count[i]);
    }
    fprintf(f, "}},\n  \"nodes\": [");
    for (int i = 0; i < p->nodes; i++) {
        const struct prof_node_totals *t = &p->node[i];
        fprintf(f, "%s\n    {\"node\": %d, \"faults\": %" PRIu64 ", \"read_faults\": %" PRIu64
                ", \"write_faults\": %" PRIu64 ", \"remote\": %" PRIu64 ", \"local\": %" PRIu64
                ", \"invalidations\": %" PRIu64 ", \"pages_received\": %" PRIu64
                ", \"pages_sent\": %" PRIu64 ", \"code_known\": %" PRIu64 "}",
                i ? "," : "", i, t->faults, t->reads, t->writes, t->remote, t->local, t->invals,
                t->received, t->sent, t->code_known);
    }
    fprintf(f, "\n  ],\n  \"pages\": [\n");
    for (size_t r = 0; r < p->npages && (int)r < o->top; r++) {
        page_json(p, &p->pages[order[r]], f);
        fputs(r + 1 < p->npages && (int)r + 1 < o->top ? ",\n" : "\n", f);
    }
    fprintf(f, "  ]\n}\n");
}
