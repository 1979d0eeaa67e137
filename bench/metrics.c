/* metrics.c - a small name -> value table per run and its text file form. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
    strcpy(m->status, RUN_OK);
}

static int find(const struct metrics *m, const char *name)
{
    for (int i = 0; i < m->count; i++) {
        if (strncmp(m->name[i], name, METRIC_NAME_MAX - 1) == 0) {
            return i;
        }
    }
    return -1;
}

void metrics_set(struct metrics *m, const char *name, double value)
{
    int i = find(m, name);
    if (i < 0) {
        if (m->count == METRICS_MAX) {
            return;
        }
        i = m->count++;
        snprintf(m->name[i], METRIC_NAME_MAX, "%s", name);
    }
    m->value[i] = value;
}

void metrics_add(struct metrics *m, const char *name, double value)
{
    double old = 0;
    metrics_get(m, name, &old);
    metrics_set(m, name, old + value);
}

int metrics_get(const struct metrics *m, const char *name, double *out)
{
    int i = find(m, name);
    if (i < 0) {
        return 0;
    }
    *out = m->value[i];
    return 1;
}

void metrics_write(const struct metrics *m, FILE *f)
{
    fprintf(f, "status %s\n", m->status);
    if (m->reason[0]) {
        fprintf(f, "reason %s\n", m->reason);
    }
    for (int i = 0; i < m->count; i++) {
        fprintf(f, "%s %.17g\n", m->name[i], m->value[i]);
    }
}

int metrics_read(const char *path, struct metrics *m)
{
    FILE *f = fopen(path, "r");
    char line[512];

    metrics_init(m);
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) {
            continue;
        }
        *sp++ = 0;
        if (strcmp(line, "status") == 0) {
            snprintf(m->status, sizeof(m->status), "%s", sp);
        } else if (strcmp(line, "reason") == 0) {
            snprintf(m->reason, sizeof(m->reason), "%s", sp);
        } else {
            char *end;
            double v = strtod(sp, &end);
            if (end != sp) {
                metrics_set(m, line, v);
            }
        }
    }
    fclose(f);
    return 0;
}
