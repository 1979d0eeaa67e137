/* transport_common.c - helpers shared by transports. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "transport.h"

void dsm_transport_logf(struct dsm_transport *t, int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (t->hooks.log) {
        t->hooks.log(t->hooks.ctx, level, buf);
    }
}

long long dsm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
