/* log.c - every message of the library goes through here. */
#include <stdarg.h>
#include <stdio.h>

#include "dsm_internal.h"

void dsm_logf(struct dsm *d, enum dsm_log_level lvl, const char *fmt, ...)
{
    if (lvl > d->cfg.log_level) {
        return;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (d->cb.log) {
        d->cb.log(d->cb.opaque, lvl, buf);
        return;
    }
    static const char *const names[] = { "error", "warning", "info", "debug" };
    fprintf(stderr, "dsm[node %d] %s: %s\n", d->self, names[lvl], buf);
}
