/* util.c - number formatting, fixed-width cells, HTML and JSON escaping. */
#include <inttypes.h>
#include <string.h>

#include "prof.h"

const char *fmt_count(uint64_t v, char *buf, size_t len)
{
    char raw[32];
    int n = snprintf(raw, sizeof(raw), "%" PRIu64, v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0) {
            buf[o++] = ',';
        }
        buf[o++] = raw[i];
    }
    buf[o] = 0;
    return buf;
}

/* Copies src into a cell of width columns, marking a cut with '~'. */
void fit(char *dst, const char *src, size_t width)
{
    size_t n = strlen(src);
    if (n <= width) {
        memcpy(dst, src, n + 1);
        return;
    }
    memcpy(dst, src, width - 1);
    dst[width - 1] = '~';
    dst[width] = 0;
}

void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}
