/* html.c - one HTML page with the summary, both tables and the plots (SVG beside it). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "prof.h"

#define HTML_ROWS_PER_PAGE 20

static const char *const style =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
    "td.l,th.l{text-align:left}pre{background:#f6f6f6;padding:.6em}"
    "img{display:block;margin:.5em 0;border:1px solid #eee}";

/* Marks the body once every plot image decoded, for tests and for readers of the DOM. */
static const char *const loaded_js =
    "<script>window.addEventListener('load',function(){var n=0;"
    "document.querySelectorAll('img.plot').forEach(function(i){"
    "if(i.complete&&i.naturalWidth>0)n++;});"
    "document.body.setAttribute('data-plots-loaded',n);});</script>\n";

void html_head(FILE *f, const char *title)
{
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    html_escape(f, title);
    fprintf(f, "</title><style>%s</style></head>\n<body>\n<h1>", style);
    html_escape(f, title);
    fprintf(f, "</h1>\n");
}

void html_plots(FILE *f, int heatmap)
{
    fprintf(f, "<h2>Plots</h2>\n"
            "<img class=\"plot\" src=\"faults-per-group.svg\" alt=\"faults per group of pages\">\n"
            "<img class=\"plot\" src=\"latency.svg\" alt=\"fault latency histogram\">\n");
    if (heatmap) {
        fprintf(f, "<img class=\"plot\" src=\"heatmap.svg\" alt=\"page x time heatmap\">\n");
    }
}

void html_tail(FILE *f)
{
    fprintf(f, "%s</body></html>\n", loaded_js);
}

int report_html(const struct prof *p, const struct prof_opts *o, const size_t *order,
                const char *dir)
{
    char path[4400], buf[512], num[32];
    snprintf(path, sizeof(path), "%s/report.html", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        prof_die("cannot write %s", path);
    }
    snprintf(buf, sizeof(buf), "dsmvm-prof: %.400s", p->dir);
    html_head(f, buf);

    /* The text summary reads well as it is. */
    char *text;
    size_t len;
    FILE *m = open_memstream(&text, &len);
    struct prof_opts none = *o;
    none.top = 0;
    none.detail = 0;
    report_text(p, &none, order, m);
    fclose(m);
    char *t1 = strstr(text, "\nTable 1");
    if (t1) {
        *t1 = 0;
    }
    fprintf(f, "<h2>Summary</h2>\n<pre>");
    html_escape(f, text);
    fprintf(f, "</pre>\n");
    free(text);

    html_plots(f, 1);

    fprintf(f, "<h2>Table 1: hot pages (sorted by %s)</h2>\n<table><tr><th>#</th><th>GPN</th>"
            "<th>faults</th><th>cross-node writes</th><th>owner changes</th>", o->sort);
    for (int i = 0; i < p->nodes; i++) {
        fprintf(f, "<th>n%d r/w</th><th>n%d inval</th>", i, i);
    }
    fprintf(f, "<th>mean us</th><th class=\"l\">symbols</th></tr>\n");
    for (size_t r = 0; r < p->npages && (int)r < o->top; r++) {
        const struct prof_page *pg = &p->pages[order[r]];
        fprintf(f, "<tr><td>%zu</td><td><a href=\"#p%" PRIx64 "\">%#" PRIx64 "</a></td><td>%s</td>",
                r + 1, pg->gpn, pg->gpn, fmt_count(pg->faults, num, sizeof(num)));
        fprintf(f, "<td>%" PRIu64 "</td><td>%" PRIu64 "</td>", pg->xwrites, pg->owner_changes);
        for (int i = 0; i < p->nodes; i++) {
            fprintf(f, "<td>%" PRIu64 "/%" PRIu64 "</td><td>%" PRIu64 "</td>", pg->reads[i],
                    pg->writes[i], pg->invals[i]);
        }
        page_symbols(p, pg->gpn, buf, sizeof(buf));
        fprintf(f, "<td>%.0f</td><td class=\"l\">",
                pg->lat_count ? (double)pg->lat_sum_ns / (double)pg->lat_count / 1e3 : 0.0);
        html_escape(f, buf);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n<h2>Table 2: accesses to the hot pages</h2>\n");
    for (size_t r = 0; r < p->npages && (int)r < o->detail; r++) {
        const struct prof_page *pg = &p->pages[order[r]];
        page_symbols(p, pg->gpn, buf, sizeof(buf));
        fprintf(f, "<h3 id=\"p%" PRIx64 "\">Page %#" PRIx64 " (", pg->gpn, pg->gpn);
        html_escape(f, buf);
        fprintf(f, "): %" PRIu64 " faults, %s</h3>\n<table><tr><th>node</th><th>r/w</th>"
                "<th>offset</th><th class=\"l\">data symbol</th><th class=\"l\">code symbol</th>"
                "<th>faults</th><th>share</th></tr>\n", pg->faults,
                prof_verdict_names[pg->verdict]);
        for (size_t i = 0; i < pg->nacc && i < HTML_ROWS_PER_PAGE; i++) {
            const struct prof_access *x = &pg->acc[i];
            access_data_name(p, pg->gpn, x->off, buf, sizeof(buf));
            fprintf(f, "<tr><td>n%d</td><td>%s</td><td>0x%03x</td><td class=\"l\">", x->node,
                    x->write ? "W" : "R", x->off);
            html_escape(f, buf);
            fprintf(f, "</td><td class=\"l\">");
            html_escape(f, p->codes[x->code]);
            fprintf(f, "</td><td>%" PRIu64 "</td><td>%.1f %%</td></tr>\n", x->faults,
                    100.0 * (double)x->faults / (double)pg->faults);
        }
        fprintf(f, "</table>\n");
    }
    html_tail(f);
    if (fclose(f) != 0) {
        prof_die("writing %s failed", path);
    }
    return 0;
}
