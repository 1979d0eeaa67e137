/* cmd-qmp-watch.c - DSM counters of every node at two console markers, over QMP.
 *
 *   dsmvm-bench qmp-watch --run-dir D --nodes N --begin TEXT --end TEXT [--timeout S]
 *                         [--out FILE]
 *
 * Watches D/serial0.log; when TEXT appears, reads `qom-get /objects/dsmvm stats` from every
 * node (D/qmpI.sock) and appends "begin|end SECONDS FAULTS REMOTE_FAULTS" (host monotonic
 * time, sums over nodes) to D/FILE (default idle-snapshots.txt). So faults of the boot and
 * of the power-off are not counted in the window between the markers. Between them it
 * appends a "tick" line every second, so that a report can tell a burst from a steady rate. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "json.h"
#include "parse.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line of QMP output (a JSON object ends each reply) into buf; -1 on error. */
static int qmp_line(int fd, char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0) {
            return -1;
        }
        if (buf[n] == '\n') {
            break;
        }
        n++;
    }
    buf[n] = 0;
    return 0;
}

/* A reply to the last command: skips asynchronous events. */
static struct json *qmp_reply(int fd, char *buf, size_t len)
{
    char err[128];
    for (int i = 0; i < 64; i++) {
        if (qmp_line(fd, buf, len) < 0) {
            return NULL;
        }
        struct json *j = json_parse(buf, strlen(buf), err, sizeof(err));
        if (j && (json_get(j, "return") || json_get(j, "error"))) {
            return j;
        }
        json_free(j);
    }
    return NULL;
}

static int qmp_send(int fd, const char *cmd)
{
    size_t len = strlen(cmd);
    return write(fd, cmd, len) == (ssize_t)len ? 0 : -1;
}

/* faults and remote faults of one node; -1 when its QMP socket does not answer. */
static int node_counters(const char *dir, int node, double *faults, double *remote)
{
    static char buf[1 << 20];
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { 5, 0 };
    int rc = -1;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp%d.sock", dir, node);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || qmp_line(fd, buf, sizeof(buf)) < 0
        || qmp_send(fd, "{\"execute\": \"qmp_capabilities\"}\n") < 0) {
        close(fd);
        return -1;
    }
    struct json *r = qmp_reply(fd, buf, sizeof(buf));
    json_free(r);
    if (r && qmp_send(fd, "{\"execute\": \"qom-get\", \"arguments\": "
                      "{\"path\": \"/objects/dsmvm\", \"property\": \"stats\"}}\n") == 0) {
        r = qmp_reply(fd, buf, sizeof(buf));
        /* the node's statistics as a JSON object (QAPI's DsmvmStats) */
        const struct json *st = json_get(r, "return");
        if (st && st->type == JSON_OBJECT) {
            *faults += json_number(st, "read_faults", 0) + json_number(st, "write_faults", 0);
            *remote += json_number(st, "faults_remote", 0);
            rc = 0;
        }
        json_free(r);
    }
    close(fd);
    return rc;
}

static int snapshot(const char *dir, const char *out, int nodes, const char *mark)
{
    double faults = 0, remote = 0, t0 = now_s();
    char path[4096];

    for (int i = 0; i < nodes; i++) {
        if (node_counters(dir, i, &faults, &remote) < 0) {
            fprintf(stderr, "qmp-watch: node %d did not answer on %s/qmp%d.sock\n", i, dir, i);
            return -1;
        }
    }
    double t = (t0 + now_s()) / 2;
    snprintf(path, sizeof(path), "%s/%s", dir, out);
    FILE *f = fopen(path, "a");
    if (!f) {
        return -1;
    }
    fprintf(f, "%s %.6f %.0f %.0f\n", mark, t, faults, remote);
    return fclose(f);
}

int cmd_qmp_watch(int argc, char **argv)
{
    const char *dir = NULL, *marks[2] = { NULL, NULL }, *names[2] = { "begin", "end" };
    const char *out = "idle-snapshots.txt";
    int nodes = 0;
    double timeout = 600;
    char path[4096];

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--run-dir") == 0) dir = argv[i + 1];
        else if (strcmp(argv[i], "--nodes") == 0) nodes = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--begin") == 0) marks[0] = argv[i + 1];
        else if (strcmp(argv[i], "--end") == 0) marks[1] = argv[i + 1];
        else if (strcmp(argv[i], "--timeout") == 0) timeout = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--out") == 0) out = argv[i + 1];
    }
    if (!dir || nodes < 1 || !marks[0] || !marks[1] || !*out || strchr(out, '/')) {
        fprintf(stderr, "usage: dsmvm-bench qmp-watch --run-dir D --nodes N --begin TEXT "
                "--end TEXT [--timeout S] [--out FILE (a name in D)]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/serial0.log", dir);
    double deadline = now_s() + timeout, next_tick = 0;
    for (int next = 0; next < 2 && now_s() < deadline;) {
        char *console = read_text_file(path);
        if (console && strstr(console, marks[next])) {
            if (snapshot(dir, out, nodes, names[next]) < 0) {
                free(console);
                return 1;
            }
            next++;
            next_tick = now_s() + 1;
        } else if (next == 1 && now_s() >= next_tick) {
            /* a node that stopped answering ends the window at the end marker, not here */
            snapshot(dir, out, nodes, "tick");
            next_tick += 1;
        } else {
            usleep(20000);
        }
        free(console);
        if (next == 2) {
            return 0;
        }
    }
    fprintf(stderr, "qmp-watch: markers not seen within %.0f s\n", timeout);
    return 1;
}
