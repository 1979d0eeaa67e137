/* dsm-bench - remote fault latency against its floor.
 *
 * Floor = raw userfaultfd round trip (a thread faults, another resolves it
 *         with UFFDIO_COPY) + raw transport round trip (small request,
 *         4 KiB reply) on the same transport.
 * Then, per transport, N node processes: node 1 writes every page, node 0
 * reads each once (remote read faults), node 1 writes them again, node 0
 * writes each once (remote write faults).  Node 0 times every access.
 *
 *   dsm-bench [--nodes N] [--pages P] [--transport tcp|shm|both]
 *             [--spin-ns NS] [--json]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dsm.h"

int64_t dsm_ping(struct dsm *d, int node, uint32_t reply_len);   /* library-internal */

#define PAGE DSM_PAGE_SIZE

static long spin_ns = -1;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct dist {
    double median_us, p99_us;
};

static struct dist summarize(uint64_t *v, size_t n)
{
    struct dist d = { 0, 0 };
    if (!n) {
        return d;
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    d.median_us = (double)v[n / 2] / 1000.0;
    size_t i99 = (n * 99) / 100;
    d.p99_us = (double)v[i99 < n ? i99 : n - 1] / 1000.0;
    return d;
}

/* ---- floor 1: raw userfaultfd round trip ----------------------------------- */

struct uffd_floor {
    int uffd;
    uint8_t *mem;
    size_t pages;
    int stop;
};

static void *uffd_resolver(void *arg)
{
    struct uffd_floor *f = arg;
    static uint8_t src[PAGE] __attribute__((aligned(PAGE)));
    struct pollfd pfd = { f->uffd, POLLIN, 0 };
    for (;;) {
        if (poll(&pfd, 1, 200) <= 0) {
            if (__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
                return NULL;
            }
            continue;
        }
        struct uffd_msg m;
        if (read(f->uffd, &m, sizeof(m)) != sizeof(m) || m.event != UFFD_EVENT_PAGEFAULT) {
            continue;
        }
        struct uffdio_copy c = {
            .dst = m.arg.pagefault.address & ~(uint64_t)(PAGE - 1),
            .src = (uintptr_t)src, .len = PAGE, .mode = 0,
        };
        if (ioctl(f->uffd, UFFDIO_COPY, &c) < 0 && errno != EEXIST) {
            perror("UFFDIO_COPY");
        }
    }
}

static struct dist measure_uffd_floor(size_t pages)
{
    struct uffd_floor f = { .pages = pages };
    struct dist none = { -1, -1 };
    f.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = { .api = UFFD_API };
    if (f.uffd < 0 || ioctl(f.uffd, UFFDIO_API, &api) < 0) {
        perror("userfaultfd");
        return none;
    }
    f.mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(f.mem, pages * PAGE, MADV_NOHUGEPAGE);
    struct uffdio_register reg = {
        .range = { (uintptr_t)f.mem, pages * PAGE }, .mode = UFFDIO_REGISTER_MODE_MISSING,
    };
    if (ioctl(f.uffd, UFFDIO_REGISTER, &reg) < 0) {
        perror("UFFDIO_REGISTER");
        return none;
    }
    pthread_t t;
    pthread_create(&t, NULL, uffd_resolver, &f);
    uint64_t *lat = malloc(pages * sizeof(*lat));
    for (size_t i = 0; i < pages; i++) {
        uint64_t t0 = now_ns();
        (void)*(volatile uint8_t *)(f.mem + i * PAGE);
        lat[i] = now_ns() - t0;
    }
    __atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    close(f.uffd);
    munmap(f.mem, pages * PAGE);
    struct dist d = summarize(lat, pages);
    free(lat);
    return d;
}

/* ---- DSM runs ---------------------------------------------------------------- */

struct result {
    struct dist rtt, read, write;
};

static int node_main(int node, int nodes, const char *transport, const char *addrs_csv,
                     int listen_fd, const char *shm_name, size_t pages, int result_fd)
{
    struct dsm_config cfg;
    char err[512];
    dsm_config_init(&cfg);
    cfg.node_id = node;
    cfg.num_nodes = nodes;
    cfg.secret = "bench";
    cfg.secret_len = 5;
    const char *addrv[DSM_MAX_NODES];
    char *csv = strdup(addrs_csv);
    int n = 0;
    for (char *s = strtok(csv, ","); s && n < DSM_MAX_NODES; s = strtok(NULL, ",")) {
        addrv[n++] = s;
    }
    if (!strcmp(transport, "tcp")) {
        cfg.transport = DSM_TRANSPORT_TCP;
        cfg.tcp_addrs = addrv;
        cfg.tcp_listen_fd = listen_fd;
    } else {
        cfg.transport = DSM_TRANSPORT_SHM;
        cfg.shm_name = shm_name;
        if (spin_ns >= 0) {
            cfg.shm_spin_ns = (unsigned)spin_ns;
        }
    }
    struct dsm *d = dsm_create(&cfg, NULL, err, sizeof(err));
    if (!d) {
        fprintf(stderr, "node %d: %s\n", node, err);
        return 1;
    }
    size_t size = pages * PAGE;
    uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (dsm_add_region(d, mem, size) < 0 || dsm_start(d, err, sizeof(err)) < 0) {
        fprintf(stderr, "node %d: start: %s\n", node, err);
        return 1;
    }
    uint64_t *rd = calloc(pages, sizeof(uint64_t)), *wr = calloc(pages, sizeof(uint64_t));
    uint64_t *rtt = calloc(pages, sizeof(uint64_t));

    /* transport floor first, while nothing else runs */
    dsm_barrier(d, 0);
    if (node == 0) {
        for (size_t i = 0; i < 50; i++) {
            dsm_ping(d, 1, PAGE);   /* warm-up */
        }
        for (size_t i = 0; i < pages; i++) {
            int64_t t = dsm_ping(d, 1, PAGE);
            rtt[i] = t > 0 ? (uint64_t)t : 0;
        }
    }
    dsm_barrier(d, 0);
    if (node == 1) {
        for (size_t i = 0; i < pages; i++) {
            mem[i * PAGE] = 1;
        }
    }
    dsm_barrier(d, 0);
    if (node == 0) {
        for (size_t i = 0; i < pages; i++) {
            uint64_t t0 = now_ns();
            (void)*(volatile uint8_t *)(mem + i * PAGE);
            rd[i] = now_ns() - t0;
        }
    }
    dsm_barrier(d, 0);
    if (node == 1) {
        for (size_t i = 0; i < pages; i++) {
            mem[i * PAGE] = 2;
        }
    }
    dsm_barrier(d, 0);
    if (node == 0) {
        for (size_t i = 0; i < pages; i++) {
            uint64_t t0 = now_ns();
            *(volatile uint8_t *)(mem + i * PAGE) = 3;
            wr[i] = now_ns() - t0;
        }
        struct result r;
        r.rtt = summarize(rtt, pages);
        r.read = summarize(rd, pages);
        r.write = summarize(wr, pages);
        if (write(result_fd, &r, sizeof(r)) != sizeof(r)) {
            perror("result pipe");
        }
    }
    dsm_barrier(d, 0);
    dsm_stop(d);
    dsm_destroy(d);
    return 0;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

static int run_transport(const char *transport, int nodes, size_t pages, struct result *out)
{
    int lfd[DSM_MAX_NODES], port;
    char addrs[DSM_MAX_NODES * 24] = "";
    for (int i = 0; i < nodes; i++) {
        lfd[i] = listen_any(&port);
        char one[32];
        snprintf(one, sizeof(one), "%s127.0.0.1:%d", i ? "," : "", port);
        strcat(addrs, one);
    }
    char shm_name[64];
    snprintf(shm_name, sizeof(shm_name), "dsm-bench-%d", (int)getpid());
    int res[2];
    if (pipe(res) < 0) {
        return -1;
    }
    fflush(stdout);
    pid_t pids[DSM_MAX_NODES];
    for (int i = 0; i < nodes; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(res[0]);
            for (int j = 0; j < nodes; j++) {
                if (j != i) {
                    close(lfd[j]);
                }
            }
            alarm(120);   /* never outlive a broken run */
            _exit(node_main(i, nodes, transport, addrs, lfd[i], shm_name, pages, res[1]));
        }
    }
    for (int i = 0; i < nodes; i++) {
        close(lfd[i]);
    }
    close(res[1]);
    memset(out, 0, sizeof(*out));
    ssize_t got = read(res[0], out, sizeof(*out));
    close(res[0]);
    int bad = got != sizeof(*out);
    for (int i = 0; i < nodes; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) {
            bad = 1;
        }
    }
    char path[128];
    snprintf(path, sizeof(path), "/dev/shm/%s", shm_name);
    unlink(path);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    int nodes = 2, json = 0;
    size_t pages = 2000;
    const char *which = "both";
    static const struct option lo[] = {
        { "nodes", 1, 0, 'N' }, { "pages", 1, 0, 'p' }, { "transport", 1, 0, 'x' },
        { "spin-ns", 1, 0, 's' }, { "json", 0, 0, 'j' }, { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'N': nodes = atoi(optarg); break;
        case 'p': pages = (size_t)atol(optarg); break;
        case 'x': which = optarg; break;
        case 's': spin_ns = atol(optarg); break;
        case 'j': json = 1; break;
        default:
            fprintf(stderr, "usage: dsm-bench [--nodes N] [--pages P] "
                    "[--transport tcp|shm|both] [--spin-ns NS] [--json]\n");
            return 2;
        }
    }
    if (nodes < 2 || nodes > DSM_MAX_NODES || pages < 10) {
        fprintf(stderr, "dsm-bench: need 2..%d nodes and at least 10 pages\n", DSM_MAX_NODES);
        return 2;
    }
    /* Threads of the floor measurement are joined before any fork below. */
    struct dist uf = measure_uffd_floor(pages);
    const char *names[2] = { "tcp", "shm" };
    struct result r[2];
    int have[2] = { 0, 0 }, rc = 0;
    for (int t = 0; t < 2; t++) {
        if (strcmp(which, "both") && strcmp(which, names[t])) {
            continue;
        }
        if (run_transport(names[t], nodes, pages, &r[t]) < 0) {
            fprintf(stderr, "dsm-bench: %s run failed\n", names[t]);
            rc = 1;
            continue;
        }
        have[t] = 1;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (json) {
        printf("{\"nodes\": %d, \"pages\": %zu, \"cpus\": %ld, "
               "\"uffd_rtt_us\": {\"median\": %.2f, \"p99\": %.2f}", nodes, pages, cpus,
               uf.median_us, uf.p99_us);
        for (int t = 0; t < 2; t++) {
            if (!have[t]) {
                continue;
            }
            double floor = uf.median_us + r[t].rtt.median_us;
            printf(", \"%s\": {\"transport_rtt_4k_us\": {\"median\": %.2f, \"p99\": %.2f}, "
                   "\"read_fault_us\": {\"median\": %.2f, \"p99\": %.2f}, "
                   "\"write_fault_us\": {\"median\": %.2f, \"p99\": %.2f}, "
                   "\"floor_us\": %.2f, \"read_over_floor\": %.3f}", names[t],
                   r[t].rtt.median_us, r[t].rtt.p99_us, r[t].read.median_us, r[t].read.p99_us,
                   r[t].write.median_us, r[t].write.p99_us, floor, r[t].read.median_us / floor);
        }
        printf("}\n");
        return rc;
    }
    printf("dsm-bench: %d nodes, %zu pages per measurement, %ld CPUs (times in us)\n", nodes,
           pages, cpus);
    printf("uffd round trip (fault + UFFDIO_COPY by another thread): median %.1f  p99 %.1f\n",
           uf.median_us, uf.p99_us);
    printf("%-5s %17s %17s %17s %8s %14s\n", "", "rtt 4K med/p99", "read med/p99",
           "write med/p99", "floor", "read/floor");
    for (int t = 0; t < 2; t++) {
        if (!have[t]) {
            continue;
        }
        double floor = uf.median_us + r[t].rtt.median_us;
        printf("%-5s %8.1f/%-8.1f %8.1f/%-8.1f %8.1f/%-8.1f %8.1f %10.2fx %s\n", names[t],
               r[t].rtt.median_us, r[t].rtt.p99_us, r[t].read.median_us, r[t].read.p99_us,
               r[t].write.median_us, r[t].write.p99_us, floor, r[t].read.median_us / floor,
               r[t].read.median_us / floor <= 1.5 ? "(goal <= 1.5x met)" : "(goal 1.5x missed)");
    }
    return rc;
}
