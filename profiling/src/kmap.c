/* kmap.c - the guest kernel's System.map: data and code symbols (our guests have no KASLR). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hmac_sha256.h"
#include "prof.h"

static int by_va(const void *a, const void *b)
{
    const struct ksym *x = a, *y = b;
    return x->va < y->va ? -1 : x->va > y->va;
}

int sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return -1;
    }
    struct dsm_sha256 s;
    uint8_t buf[65536], out[DSM_SHA256_LEN];
    size_t n;
    dsm_sha256_init(&s);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        dsm_sha256_update(&s, buf, n);
    }
    fclose(f);
    dsm_sha256_final(&s, out);
    for (int i = 0; i < DSM_SHA256_LEN; i++) {
        sprintf(hex + 2 * i, "%02x", out[i]);
    }
    return 0;
}

int kmap_load(struct kmap *k, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, capsyms = 0;
    unsigned long lineno = 0;
    int have_percpu = 0;
    memset(k, 0, sizeof(*k));
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (getline(&line, &cap, f) > 0) {
        char name[512], type;
        unsigned long long va;
        lineno++;
        if (sscanf(line, "%llx %c %511s", &va, &type, name) != 3) {
            snprintf(err, errlen, "%s line %lu is not 'address type name': not a System.map",
                     path, lineno);
            goto fail;
        }
        /* The per-CPU section's ends, kept before the zero-based ones are dropped. */
        if (strcmp(name, "__per_cpu_start") == 0) {
            k->percpu_start = va, have_percpu |= 1;
        } else if (strcmp(name, "__per_cpu_end") == 0) {
            k->percpu_end = va, have_percpu |= 2;
        }
        if (type == 'a' || type == 'A' || type == 'U' || va < KERNEL_MAP_BASE) {
            continue;   /* absolute values, per-CPU offsets: not addresses in the image */
        }
        if (k->n == capsyms) {
            capsyms = capsyms ? capsyms * 2 : 65536;
            k->syms = realloc(k->syms, capsyms * sizeof(*k->syms));
            if (!k->syms) {
                prof_die("out of memory");
            }
        }
        k->syms[k->n].va = va;
        k->syms[k->n].type = type;
        k->syms[k->n].name = strdup(name);
        if (strcmp(name, "_text") == 0) {
            k->text_start = va;
        } else if (strcmp(name, "_end") == 0) {
            k->image_end = va;
        } else if (strcmp(name, "_sdata") == 0) {
            k->sdata = va;
        } else if (strcmp(name, "_edata") == 0) {
            k->edata = va;
        } else if (strcmp(name, "__bss_start") == 0) {
            k->bss_start = va;
        } else if (strcmp(name, "__bss_stop") == 0) {
            k->bss_stop = va;
        } else if (strcmp(name, "__per_cpu_load") == 0) {
            k->percpu_load = va;
        }
        k->n++;
    }
    if (!k->text_start || !k->image_end || k->image_end <= k->text_start) {
        snprintf(err, errlen, "%s has no _text/_end: not an x86-64 kernel's System.map", path);
        goto fail;
    }
    k->have_percpu = have_percpu == 3 && k->percpu_end > k->percpu_start;
    qsort(k->syms, k->n, sizeof(*k->syms), by_va);
    free(line);
    fclose(f);
    if (sha256_file(path, k->sha256) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
fail:
    free(line);
    fclose(f);
    kmap_free(k);
    return -1;
}

void kmap_free(struct kmap *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->syms[i].name);
    }
    free(k->syms);
    memset(k, 0, sizeof(*k));
}

const struct ksym *kmap_lookup(const struct kmap *k, uint64_t va)
{
    if (va < k->text_start || va >= k->image_end) {
        return NULL;
    }
    size_t lo = 0, hi = k->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (k->syms[mid].va <= va) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return k->n && k->syms[lo].va <= va ? &k->syms[lo] : NULL;
}

static void sym_name(const struct ksym *s, uint64_t va, char *buf, size_t len)
{
    if (va == s->va) {
        snprintf(buf, len, "%s", s->name);
    } else {
        snprintf(buf, len, "%s+0x%" PRIx64, s->name, va - s->va);
    }
}

const struct ksym *kmap_data_sym(const struct kmap *k, uint64_t gpa)
{
    return kmap_lookup(k, gpa + KERNEL_MAP_BASE);
}

void kmap_data_name(const struct kmap *k, uint64_t gpa, char *buf, size_t len)
{
    const struct ksym *s = kmap_data_sym(k, gpa);
    if (!s) {
        snprintf(buf, len, "-");
        return;
    }
    sym_name(s, gpa + KERNEL_MAP_BASE, buf, len);
}

void kmap_code_name(const struct kmap *k, uint64_t va, char *buf, size_t len)
{
    const struct ksym *s = kmap_lookup(k, va);
    if (!s && va < 0x800000000000ull) {
        snprintf(buf, len, "user:0x%" PRIx64, va);  /* guest user space: no map for it */
        return;
    }
    if (!s) {
        snprintf(buf, len, "0x%" PRIx64, va);
        return;
    }
    sym_name(s, va, buf, len);
}

size_t kmap_page_symbols(const struct kmap *k, uint64_t gpn, const char **out, size_t max)
{
    uint64_t start = gpn * PROF_PAGE_SIZE + KERNEL_MAP_BASE, end = start + PROF_PAGE_SIZE;
    const struct ksym *s = kmap_lookup(k, start);
    size_t n = 0;
    if (!s) {
        /* The image may start inside this page. */
        if (end <= k->text_start || start >= k->image_end) {
            return 0;
        }
        s = &k->syms[0];
        while (s < k->syms + k->n && s->va < k->text_start) {
            s++;
        }
    }
    for (; s < k->syms + k->n && s->va < end && n < max; s++) {
        if (n && strcmp(out[n - 1], s->name) == 0) {
            continue;
        }
        /* Section markers say nothing about the variables. */
        if (strncmp(s->name, "__", 2) == 0 && s->va != start) {
            continue;
        }
        out[n++] = s->name;
    }
    return n;
}
