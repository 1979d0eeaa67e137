/* testdrv.c - forks N dsm-test-node processes, checks they all exit 0.
 *
 * Always terminates: every run has a deadline after which the remaining
 * children are SIGKILLed.  With --kill-last, waits for node 0 to report
 * "pages held" on a pipe, SIGKILLs the last node, and checks that every
 * other node reports the failure (exit 42) within --fail-limit seconds.
 *
 * --transport tcp (default): nodes listen on 127.0.0.1, on sockets bound
 * here and passed down.  --transport rdma: nodes listen on --rdma-addr IP
 * (default: the first IPv4 address of an interface that is up and not
 * loopback, e.g. eth0 carrying a soft-RoCE device), each on a port found
 * free here.  --transport shm: one file under /dev/shm.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "local_addr.h"

#define EXIT_PEER_FAILED 42

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        perror("listen");
        exit(1);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port no socket uses now on addr (the rdma_cm port space is separate,
 * but as empty): bound and read back; *hold keeps it until every node's
 * port is picked, so that no two are the same. */
static int free_port(const char *addr, int *hold)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
        fprintf(stderr, "dsm-testdrv: --rdma-addr %s is not an IPv4 address\n", addr);
        exit(2);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        /* not a local address: take any free port */
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        a.sin_port = 0;
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
            perror("bind");
            exit(1);
        }
    }
    *hold = fd;
    return ntohs(a.sin_port);
}

/* The first IPv4 address of an interface that is up and not loopback. */
int main(int argc, char **argv)
{
    int nodes = 2, threads = 2, kill_last = 0, verbose = 0, default_handler = 0;
    int expect_exit = EXIT_PEER_FAILED, bad_secret = 0, homed = 0, exclusive_reads = 0;
    const char *read_ahead = NULL;
    double timeout = 120, fail_limit = 5;
    const char *test = "mixed", *transport = "tcp", *node_bin = NULL, *rdma_addr = NULL;
    char rdma_addr_buf[64];
    static const struct option lo[] = {
        { "nodes", 1, 0, 'N' }, { "threads", 1, 0, 't' }, { "test", 1, 0, 'T' },
        { "transport", 1, 0, 'x' }, { "timeout", 1, 0, 'o' }, { "node-bin", 1, 0, 'b' },
        { "kill-last", 0, 0, 'k' }, { "fail-limit", 1, 0, 'f' }, { "verbose", 0, 0, 'v' },
        { "default-handler", 0, 0, 'D' }, { "bad-secret", 0, 0, 'B' },
        { "homed", 0, 0, 'H' }, { "read-ahead", 1, 0, 'R' }, { "rdma-addr", 1, 0, 'A' },
        { "exclusive-reads", 0, 0, 'E' },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'N': nodes = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'T': test = optarg; break;
        case 'x': transport = optarg; break;
        case 'o': timeout = atof(optarg); break;
        case 'b': node_bin = optarg; break;
        case 'k': kill_last = 1; break;
        case 'f': fail_limit = atof(optarg); break;
        case 'v': verbose = 1; break;
        case 'D': default_handler = 1; expect_exit = 1; break;
        case 'B': bad_secret = 1; break;
        case 'H': homed = 1; break;
        case 'E': exclusive_reads = 1; break;
        case 'R': read_ahead = optarg; break;
        case 'A': rdma_addr = optarg; break;
        default: return 2;
        }
    }
    if (nodes < 1 || nodes > 64) {
        return 2;
    }
    char self_dir[4096], bin[4200];
    if (!node_bin) {
        ssize_t l = readlink("/proc/self/exe", self_dir, sizeof(self_dir) - 1);
        self_dir[l > 0 ? l : 0] = 0;
        char *slash = strrchr(self_dir, '/');
        if (slash) {
            *slash = 0;
        }
        snprintf(bin, sizeof(bin), "%s/dsm-test-node", self_dir);
        node_bin = bin;
    }
    int tcp = !strcmp(transport, "tcp");
    int lfd[64], port[64];
    char addrs[64 * 32] = "";
    for (int i = 0; tcp && i < nodes; i++) {
        lfd[i] = listen_any(&port[i]);
        char one[32];
        snprintf(one, sizeof(one), "%s127.0.0.1:%d", i ? "," : "", port[i]);
        strcat(addrs, one);
    }
    if (!strcmp(transport, "rdma")) {
        if (!rdma_addr) {
            rdma_addr = dsm_default_rdma_addr(rdma_addr_buf, sizeof(rdma_addr_buf));
        }
        int hold[64];
        for (int i = 0; i < nodes; i++) {
            char one[96];
            snprintf(one, sizeof(one), "%s%s:%d", i ? "," : "", rdma_addr,
                     free_port(rdma_addr, &hold[i]));
            strcat(addrs, one);
        }
        for (int i = 0; i < nodes; i++) {
            close(hold[i]);
        }
    }
    char shm_name[64];
    snprintf(shm_name, sizeof(shm_name), "dsm-test-%d-%ld", (int)getpid(), (long)time(NULL));
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        perror("pipe");
        return 1;
    }

    pid_t pids[64];
    int status[64], done[64] = { 0 };
    double exit_time[64];
    double t_start = now_s();
    for (int i = 0; i < nodes; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("fork");
            return 1;
        }
        if (pids[i] == 0) {
            char a_node[16], a_nodes[16], a_thr[16], a_lfd[16], a_rfd[16];
            for (int j = 0; tcp && j < nodes; j++) {
                if (j != i) {
                    close(lfd[j]);
                }
            }
            if (tcp) {
                fcntl(lfd[i], F_SETFD, 0);
            }
            fcntl(ready[1], F_SETFD, 0);
            snprintf(a_node, sizeof(a_node), "%d", i);
            snprintf(a_nodes, sizeof(a_nodes), "%d", nodes);
            snprintf(a_thr, sizeof(a_thr), "%d", threads);
            snprintf(a_lfd, sizeof(a_lfd), "%d", tcp ? lfd[i] : -1);
            snprintf(a_rfd, sizeof(a_rfd), "%d", ready[1]);
            char *args[] = {
                (char *)node_bin, "--node", a_node, "--nodes", a_nodes, "--threads", a_thr,
                "--test", (char *)test, "--transport", (char *)transport,
                "--addrs", addrs, "--listen-fd", a_lfd, "--shm-name", shm_name,
                "--ready-fd", a_rfd, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                NULL, NULL,
            };
            int extra = 19;
            if (verbose) {
                args[extra++] = "--verbose";
            }
            if (exclusive_reads) {
                args[extra++] = "--exclusive-reads";
            }
            if (homed) {
                args[extra++] = "--homed";
            }
            if (read_ahead) {
                args[extra++] = "--read-ahead";
                args[extra++] = (char *)read_ahead;
            }
            if (default_handler) {
                args[extra++] = "--default-handler";
            }
            if (bad_secret && i == nodes - 1) {
                args[extra++] = "--secret";
                args[extra++] = "not-the-cluster-secret";
            }
            if (bad_secret) {
                /* the refused node's peers wait for a good one until then */
                args[extra++] = "--connect-timeout";
                args[extra++] = "5000";
            }
            execv(node_bin, args);
            perror(node_bin);
            _exit(127);
        }
    }
    for (int i = 0; tcp && i < nodes; i++) {
        close(lfd[i]);
    }
    close(ready[1]);

    double t_kill = 0;
    int victim = nodes - 1, failed = 0, remaining = nodes;
    if (kill_last) {
        struct pollfd pfd = { ready[0], POLLIN, 0 };
        char ch;
        if (poll(&pfd, 1, (int)(timeout * 1000)) != 1 || read(ready[0], &ch, 1) != 1) {
            fprintf(stderr, "dsm-testdrv: nodes never became ready\n");
            failed = 1;
        } else {
            usleep(200 * 1000);   /* let the pages move for a while */
            t_kill = now_s();
            kill(pids[victim], SIGKILL);
        }
    }
    while (remaining > 0) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p > 0) {
            for (int i = 0; i < nodes; i++) {
                if (pids[i] == p && !done[i]) {
                    done[i] = 1;
                    status[i] = st;
                    exit_time[i] = now_s();
                    remaining--;
                }
            }
            continue;
        }
        if (now_s() - t_start > timeout) {
            fprintf(stderr, "dsm-testdrv: timeout after %.0f s, killing the remaining nodes\n",
                    timeout);
            for (int i = 0; i < nodes; i++) {
                if (!done[i]) {
                    kill(pids[i], SIGKILL);
                }
            }
            failed = 1;
            while (waitpid(-1, NULL, 0) > 0) {
            }
            for (int i = 0; i < nodes; i++) {
                if (!done[i]) {
                    done[i] = 1;
                    status[i] = -1;
                    exit_time[i] = now_s();
                }
            }
            break;
        }
        usleep(2000);
    }
    char path[128];
    snprintf(path, sizeof(path), "/dev/shm/%s", shm_name);
    unlink(path);

    for (int i = 0; i < nodes; i++) {
        int st = status[i];
        if (kill_last && i == victim) {
            if (!(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
                fprintf(stderr, "dsm-testdrv: victim node %d was not killed (status %#x)\n", i, st);
                failed = 1;
            }
            continue;
        }
        if (kill_last) {
            double dt = exit_time[i] - t_kill;
            int ok = st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == expect_exit && t_kill > 0;
            fprintf(stderr, "dsm-testdrv: node %d reported the failure and exited %.3f s after "
                    "the kill (%s)\n", i, dt, ok ? "ok" : "WRONG STATUS");
            if (!ok || dt > fail_limit) {
                failed = 1;
            }
            continue;
        }
        if (bad_secret) {
            /* every connection to the last node must be refused at start */
            int refused = st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3;
            int must = i == nodes - 1 || nodes == 2;
            if (must && !refused) {
                fprintf(stderr, "dsm-testdrv: node %d was not refused (status %#x)\n", i, st);
                failed = 1;
            }
            continue;
        }
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "dsm-testdrv: node %d %s %d\n", i,
                    st >= 0 && WIFSIGNALED(st) ? "killed by signal" : "exit status",
                    st < 0 ? -1 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            failed = 1;
        }
    }
    printf("%s: test %s, %d nodes, %s, %d threads (%.2f s)\n", failed ? "FAIL" : "PASS", test,
           nodes, transport, threads, now_s() - t_start);
    return failed;
}
