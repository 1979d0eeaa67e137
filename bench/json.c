/* json.c - recursive-descent JSON reader (RFC 8259, without surrogate-pair joining). */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *s, *end;
    char *err;
    size_t errlen;
    int depth;
};

#define MAX_DEPTH 64

static int fail(struct parser *p, const char *what)
{
    if (p->err && p->errlen && !p->err[0]) {
        snprintf(p->err, p->errlen, "%s at byte %td", what, p->end - p->s);
    }
    return -1;
}

static void skip_space(struct parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) {
        p->s++;
    }
}

static int literal(struct parser *p, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0) {
        return fail(p, "unknown literal");
    }
    p->s += n;
    return 0;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

/* Appends code point cp as UTF-8. */
static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    o[0] = (char)(0xe0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

static char *parse_string(struct parser *p)
{
    if (p->s >= p->end || *p->s != '"') {
        fail(p, "expected a string");
        return NULL;
    }
    p->s++;
    /* The unescaped text is never longer than the escaped one. */
    const char *q = p->s;
    while (q < p->end && *q != '"') {
        q += (*q == '\\' && q + 1 < p->end) ? 2 : 1;
    }
    if (q >= p->end) {
        fail(p, "unterminated string");
        return NULL;
    }
    char *out = malloc((size_t)(q - p->s) + 1), *o = out;
    if (!out) {
        fail(p, "out of memory");
        return NULL;
    }
    while (p->s < q) {
        char c = *p->s++;
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        c = *p->s++;
        switch (c) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            int cp = q - p->s >= 4 ? hex4(p->s) : -1;
            if (cp < 0) {
                free(out);
                fail(p, "bad \\u escape");
                return NULL;
            }
            p->s += 4;
            o += put_utf8(o, (unsigned)cp);
            break;
        }
        default: *o++ = c; break;   /* \" \\ \/ */
        }
    }
    *o = 0;
    p->s = q + 1;
    return out;
}

static struct json *parse_value(struct parser *p);

static struct json *new_node(enum json_type t)
{
    struct json *j = calloc(1, sizeof(*j));
    if (j) {
        j->type = t;
    }
    return j;
}

/* Arrays and objects: elements separated by commas, members carry a key. */
static struct json *parse_container(struct parser *p, int is_object)
{
    struct json *j = new_node(is_object ? JSON_OBJECT : JSON_ARRAY);
    struct json **tail = j ? &j->child : NULL;
    char close = is_object ? '}' : ']';

    if (!j || ++p->depth > MAX_DEPTH) {
        fail(p, "nested too deep");
        json_free(j);
        return NULL;
    }
    p->s++;
    skip_space(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        p->depth--;
        return j;
    }
    for (;;) {
        char *key = NULL;
        skip_space(p);
        if (is_object) {
            key = parse_string(p);
            skip_space(p);
            if (!key || p->s >= p->end || *p->s != ':') {
                free(key);
                fail(p, "expected ':'");
                json_free(j);
                return NULL;
            }
            p->s++;
        }
        struct json *v = parse_value(p);
        if (!v) {
            free(key);
            json_free(j);
            return NULL;
        }
        v->key = key;
        *tail = v;
        tail = &v->next;
        skip_space(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            p->depth--;
            return j;
        }
        fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        json_free(j);
        return NULL;
    }
}

static struct json *parse_value(struct parser *p)
{
    struct json *j = NULL;

    skip_space(p);
    if (p->s >= p->end) {
        fail(p, "unexpected end");
        return NULL;
    }
    switch (*p->s) {
    case '{': return parse_container(p, 1);
    case '[': return parse_container(p, 0);
    case '"': {
        char *s = parse_string(p);
        if (!s || !(j = new_node(JSON_STRING))) {
            free(s);
            return NULL;
        }
        j->string = s;
        return j;
    }
    case 't': case 'f': {
        int is_true = *p->s == 't';
        if (literal(p, is_true ? "true" : "false") < 0 || !(j = new_node(JSON_BOOL))) {
            return NULL;
        }
        j->number = is_true;
        return j;
    }
    case 'n':
        return literal(p, "null") < 0 ? NULL : new_node(JSON_NULL);
    default: {
        char buf[64];
        size_t n = 0;
        while (p->s + n < p->end && n < sizeof(buf) - 1 && strchr("+-0123456789.eE", p->s[n])) {
            n++;
        }
        memcpy(buf, p->s, n);
        buf[n] = 0;
        char *e;
        double v = strtod(buf, &e);
        if (n == 0 || *e) {
            fail(p, "bad number");
            return NULL;
        }
        p->s += n;
        if ((j = new_node(JSON_NUMBER))) {
            j->number = v;
        }
        return j;
    }
    }
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser p = { text, text + len, err, errlen, 0 };
    if (err && errlen) {
        err[0] = 0;
    }
    struct json *j = parse_value(&p);
    skip_space(&p);
    if (j && p.s != p.end) {
        fail(&p, "trailing text");
        json_free(j);
        return NULL;
    }
    return j;
}

struct json *json_parse_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "out of memory reading %s", path);
        return NULL;
    }
    struct json *j = json_parse(buf, len, err, errlen);
    free(buf);
    return j;
}

void json_free(struct json *j)
{
    while (j) {
        struct json *next = j->next;
        json_free(j->child);
        free(j->string);
        free(j->key);
        free(j);
        j = next;
    }
}

const struct json *json_get(const struct json *j, const char *key)
{
    if (!j || j->type != JSON_OBJECT) {
        return NULL;
    }
    for (const struct json *c = j->child; c; c = c->next) {
        if (c->key && strcmp(c->key, key) == 0) {
            return c;
        }
    }
    return NULL;
}

size_t json_count(const struct json *j)
{
    size_t n = 0;
    for (const struct json *c = j ? j->child : NULL; c; c = c->next) {
        n++;
    }
    return n;
}

double json_number(const struct json *j, const char *key, double fallback)
{
    const struct json *v = json_get(j, key);
    return v && v->type == JSON_NUMBER ? v->number : fallback;
}

const char *json_string(const struct json *j, const char *key, const char *fallback)
{
    const struct json *v = json_get(j, key);
    return v && v->type == JSON_STRING ? v->string : fallback;
}
