/* json-write.h - helpers for writing JSON with fprintf. */
#ifndef BENCH_JSON_WRITE_H
#define BENCH_JSON_WRITE_H

#include <stdio.h>

/* s as a quoted JSON string. */
void jw_string(FILE *f, const char *s);
/* v as a JSON number, or null when it is not finite. */
void jw_number(FILE *f, double v);

#endif
