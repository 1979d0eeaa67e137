/* load.c - RUN_DIR/profile -> struct prof: checks every input before trusting it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "prof.h"

#define SCRIPT_FIELDS "pid,tid,time,event,ip,sym,addr,trace"
#define SCRIPT_TRAILER "# dsmvm-prof end"

void prof_die(const char *fmt, ...)
{
    va_list ap;
    fputs("dsmvm-prof: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void prof_progress(const struct prof_opts *o, const char *fmt, ...)
{
    va_list ap;
    if (o->quiet) {
        return;
    }
    fputs("dsmvm-prof: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

uint32_t prof_intern_code(struct prof *p, const char *name)
{
    /* Linear probing over a hash table kept beside the array. */
    uint32_t *table = p->code_table;
    size_t tcap = p->code_tcap;
    if (p->ncodes * 2 >= tcap) {
        size_t ncap = tcap ? tcap * 2 : 8192;
        uint32_t *nt = calloc(ncap, sizeof(*nt));
        if (!nt) {
            prof_die("out of memory");
        }
        for (size_t i = 1; i < p->ncodes; i++) {
            size_t h = 5381;
            for (const char *c = p->codes[i]; *c; c++) {
                h = h * 33 + (unsigned char)*c;
            }
            while (nt[h % ncap]) {
                h++;
            }
            nt[h % ncap] = (uint32_t)i;
        }
        free(table);
        p->code_table = table = nt;
        p->code_tcap = tcap = ncap;
    }
    if (p->ncodes == 0) {
        p->capcodes = 1024;
        p->codes = malloc(p->capcodes * sizeof(*p->codes));
        p->codes[0] = strdup("?");
        p->ncodes = 1;
    }
    size_t h = 5381;
    for (const char *c = name; *c; c++) {
        h = h * 33 + (unsigned char)*c;
    }
    for (;; h++) {
        uint32_t id = table[h % tcap];
        if (!id) {
            break;
        }
        if (strcmp(p->codes[id], name) == 0) {
            return id;
        }
    }
    if (p->ncodes == p->capcodes) {
        p->capcodes *= 2;
        p->codes = realloc(p->codes, p->capcodes * sizeof(*p->codes));
        if (!p->codes) {
            prof_die("out of memory");
        }
    }
    p->codes[p->ncodes] = strdup(name);
    table[h % tcap] = (uint32_t)p->ncodes;
    return (uint32_t)p->ncodes++;
}

/* Value of "key" in a JSON object we wrote ourselves (meta.json, statsN.json), where
 * the key is unique. */
static int meta_value(const char *json, const char *key, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *v = strstr(json, pat);
    if (!v) {
        return -1;
    }
    v += strlen(pat);
    while (*v == ' ') {
        v++;
    }
    if (*v == '"') {
        v++;
    }
    size_t n = strcspn(v, "\",}\n");
    if (n >= len) {
        return -1;
    }
    memcpy(out, v, n);
    out[n] = 0;
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* perf.data must hold what its header promises (PERFILE2: attrs, data, then features). */
static void check_perf_data(const char *path)
{
    struct {
        char magic[8];
        uint64_t size, attr_size;
        uint64_t attrs_off, attrs_size, data_off, data_size, types_off, types_size;
        uint64_t features[4];
    } h;
    struct stat st;
    FILE *f = fopen(path, "rb");
    if (!f || stat(path, &st) < 0) {
        prof_die("%s: %s", path, strerror(errno));
    }
    size_t got = fread(&h, 1, sizeof(h), f);
    fclose(f);
    if (got < sizeof(h) || memcmp(h.magic, "PERFILE2", 8) != 0) {
        prof_die("%s is not a perf data file or is truncated (%lld bytes, no complete header)",
                 path, (long long)st.st_size);
    }
    uint64_t end = h.data_off + h.data_size;
    if (h.data_size == 0 || end < h.data_off || end > (uint64_t)st.st_size) {
        prof_die("%s is truncated or was not finished by perf record: %lld bytes, its header "
                 "says the samples end at byte %" PRIu64 " (data size %" PRIu64 ")",
                 path, (long long)st.st_size, end, h.data_size);
    }
    int nfeat = 0;
    for (int i = 0; i < 4; i++) {
        nfeat += __builtin_popcountll(h.features[i]);
    }
    if (end + (uint64_t)nfeat * 16 > (uint64_t)st.st_size) {
        prof_die("%s is truncated: its %d feature sections after byte %" PRIu64 " are missing",
                 path, nfeat, end);
    }
}

/* (Re)makes nodeN.script from nodeN.perf.data when missing or older than the data. */
static void ensure_script(const char *data, const char *script, const struct prof_opts *o)
{
    struct stat sd, ss;
    if (stat(data, &sd) < 0) {
        return;
    }
    check_perf_data(data);
    if (stat(script, &ss) == 0 && ss.st_mtime >= sd.st_mtime) {
        return;
    }
    prof_progress(o, "running perf script on %s ...", data);
    char *cmd, tmp[4500];
    snprintf(tmp, sizeof(tmp), "%s.tmp", script);
    if (asprintf(&cmd, "perf script -i '%s' --ns -F " SCRIPT_FIELDS " > '%s' 2> '%s.err'",
                 data, tmp, tmp) < 0) {
        prof_die("out of memory");
    }
    int rc = system(cmd);
    free(cmd);
    if (rc != 0) {
        char errpath[4600];
        snprintf(errpath, sizeof(errpath), "%s.err", tmp);
        char *e = slurp(errpath);
        prof_die("perf script failed on %s (status %d): %.300s", data,
                 WIFEXITED(rc) ? WEXITSTATUS(rc) : rc, e ? e : "");
    }
    FILE *f = fopen(tmp, "a");
    if (!f || fprintf(f, SCRIPT_TRAILER "\n") < 0 || fclose(f) != 0 || rename(tmp, script) < 0) {
        prof_die("writing %s: %s", script, strerror(errno));
    }
}

/* Pages sent and received and write-update installs, from the node's own counters
 * (RUN_DIR/statsN.json): recordings leave out those probes, which fire on every transfer,
 * to keep recording cheap.  A run without the file keeps them at zero. */
static void totals_from_stats(struct prof *p, const char *run_dir, int node,
                              const struct prof_opts *o)
{
    char path[4400], val[64];
    snprintf(path, sizeof(path), "%s/stats%d.json", run_dir, node);
    char *json = slurp(path);
    if (!json) {
        prof_progress(o, "no %s: node %d's pages sent and received are not known", path, node);
        return;
    }
    struct prof_node_totals *t = &p->node[node];
    static const struct { const char *key; size_t off; } keys[] = {
        { "pages_sent", offsetof(struct prof_node_totals, sent) },
        { "pages_received", offsetof(struct prof_node_totals, received) },
        { "wu_updates", offsetof(struct prof_node_totals, wu) },
    };
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        char *end;
        if (meta_value(json, keys[k].key, val, sizeof(val)) == 0) {
            uint64_t v = strtoull(val, &end, 10);
            if (end != val && *end == 0) {
                *(uint64_t *)((char *)t + keys[k].off) = v;
            }
        }
    }
    free(json);
}

/* Keeps the faults and invalidations from FROM to TO seconds after each node's first fault
 * (each node's own clock: the nodes of a cluster do not share one). */
static void apply_window(struct prof *p, const struct prof_opts *o)
{
    uint64_t first[PROF_MAX_NODES];
    for (int i = 0; i < PROF_MAX_NODES; i++) {
        first[i] = UINT64_MAX;
    }
    for (size_t i = 0; i < p->nfaults; i++) {
        const struct prof_fault *f = &p->faults[i];
        if (!f->inval && f->t_ns < first[f->node]) {
            first[f->node] = f->t_ns;
        }
    }
    for (int i = 0; i < p->nodes; i++) {
        p->node[i].invals = 0;
    }
    size_t kept = 0, kept_faults = 0;
    for (size_t i = 0; i < p->nfaults; i++) {
        const struct prof_fault *f = &p->faults[i];
        if (first[f->node] == UINT64_MAX || f->t_ns < first[f->node]) {
            continue;
        }
        double t = (double)(f->t_ns - first[f->node]) / 1e9;
        if (t < o->window_from || (o->window_to >= 0 && t >= o->window_to)) {
            continue;
        }
        if (f->inval) {
            p->node[f->node].invals++;
        } else {
            kept_faults++;
        }
        p->faults[kept++] = *f;
    }
    p->nfaults = kept;
    p->windowed = 1;
    if (kept_faults == 0) {
        char to[32] = "";
        if (o->window_to >= 0) {
            snprintf(to, sizeof(to), "%g", o->window_to);
        }
        prof_die("no fault in --window %g:%s (seconds after each node's first fault)",
                 o->window_from, to);
    }
}

void prof_load(struct prof *p, const char *run_dir, const struct prof_opts *o)
{
    char path[4400], err[600], val[128];
    memset(p, 0, sizeof(*p));
    prof_intern_code(p, "?");   /* code id 0 (PROF_NO_CODE) exists even if no sample has one */
    snprintf(p->dir, sizeof(p->dir), "%s", run_dir);
    snprintf(path, sizeof(path), "%s/profile/meta.json", run_dir);
    char *meta = slurp(path);
    if (!meta) {
        struct stat st;
        if (stat(run_dir, &st) < 0) {
            prof_die("%s: %s", run_dir, strerror(errno));
        }
        prof_die("%s has no profile data (%s is missing): record it with "
                 "'host/launcher/dsmvm-launch --profile' or 'make run PROFILE=1'", run_dir, path);
    }
    if (meta_value(meta, "nodes", val, sizeof(val)) < 0 || (p->nodes = atoi(val)) < 1 ||
        p->nodes > PROF_MAX_NODES) {
        prof_die("%s: no valid \"nodes\" (1..%d): the recording did not finish", path,
                 PROF_MAX_NODES);
    }
    if (meta_value(meta, "accelerator", p->accel, sizeof(p->accel)) < 0) {
        snprintf(p->accel, sizeof(p->accel), "tcg");
    }
    uint64_t mem = meta_value(meta, "mem_mib", val, sizeof(val)) == 0 ? strtoull(val, 0, 10) : 0;
    if (mem == 0) {
        prof_die("%s: no valid \"mem_mib\"", path);
    }
    /* PC (i440FX): RAM from 3.5 GiB up is split at 3 GiB and continues above 4 GiB. */
    /* One DSM region per guest NUMA node ("region_mib": "256 256"), else one. */
    p->nregions = 1;
    if (meta_value(meta, "region_mib", val, sizeof(val)) == 0) {
        uint64_t base = 0;
        char *s = val, *end;
        for (p->nregions = 0; *s; s = *end ? end + 1 : end) {
            uint64_t mib = strtoull(s, &end, 10);
            if (end == s || (*end && *end != ' ') || mib == 0 || p->nregions == PROF_MAX_NODES) {
                prof_die("%s: bad \"region_mib\" (%s)", path, val);
            }
            p->region_base[p->nregions++] = base << 20;
            base += mib;
        }
        if (base != mem) {
            prof_die("%s: \"region_mib\" adds up to %" PRIu64 " MiB, not mem_mib %" PRIu64,
                     path, base, mem);
        }
    }
    mem <<= 20;
    p->below_4g = mem >= 0xe0000000ull ? 0xc0000000ull : mem;

    const char *map = o->system_map;
    snprintf(path, sizeof(path), "%s/profile/System.map", run_dir);
    if (!map) {
        map = path;
    }
    struct stat st;
    if (stat(map, &st) == 0) {
        if (kmap_load(&p->kmap, map, err, sizeof(err)) < 0) {
            prof_die("%s", err);
        }
        p->have_kmap = 1;
        if (meta_value(meta, "system_map_sha256", val, sizeof(val)) == 0 &&
            strcmp(val, "null") != 0 && strcmp(val, p->kmap.sha256) != 0) {
            prof_die("%s is the System.map of another kernel than the one recorded in %s "
                     "(sha256 %.12s..., recorded %.12s...)", map, run_dir, p->kmap.sha256, val);
        }
    } else if (o->system_map) {
        prof_die("%s: %s", map, strerror(errno));
    } else {
        prof_progress(o, "no System.map in %s/profile: addresses stay unnamed", run_dir);
    }
    free(meta);

    for (int i = 0; i < p->nodes; i++) {
        char data[4400], script[4400];
        snprintf(data, sizeof(data), "%s/profile/node%d.perf.data", run_dir, i);
        snprintf(script, sizeof(script), "%s/profile/node%d.script", run_dir, i);
        ensure_script(data, script, o);
        FILE *f = fopen(script, "r");
        if (!f) {
            prof_die("node %d: neither %s nor its perf data is there: %s", i, script,
                     strerror(errno));
        }
        prof_progress(o, "reading node %d (%s) ...", i, script);
        size_t before = p->nfaults;
        if (prof_parse_script(p, i, f, err, sizeof(err)) < 0) {
            prof_die("%s: %s", script, err);
        }
        fclose(f);
        if (p->node[i].transfer_events == 0) {
            totals_from_stats(p, run_dir, i, o);
        }
        size_t got = 0;
        for (size_t j = before; j < p->nfaults; j++) {
            got += !p->faults[j].inval;
        }
        if (got == 0) {
            prof_die("%s holds no DSM fault events (sdt_dsm:fault_end): was QEMU built with "
                     "the probes and recorded with them?", script);
        }
    }
    if (o->window) {
        apply_window(p, o);
    }
    prof_build(p);
}
