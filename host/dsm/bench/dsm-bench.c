/* dsm-bench - remote fault latency against its floor.
 *
 * Floor = raw userfaultfd round trip (a thread faults, another resolves it
 *         with UFFDIO_COPY) + raw transport round trip (small request,
 *         4 KiB reply) on the same transport.
 * Per transport, N node processes: node 1 writes a block of pages, node 0
 * reads each once (remote read faults), node 1 writes them again, node 0
 * writes each once (remote write faults).  Node 0 times every access and
 * measures both floor components in the same rounds, interleaved, so load
 * from elsewhere on the machine affects floor and faults alike.
 *
 *   dsm-bench [--nodes N] [--pages P] [--transport tcp|shm|rdma|both]
 *             [--rdma-addr IP] [--spin-ns NS] [--json]
 *
 * both = tcp and shm.  rdma: nodes listen on --rdma-addr IP, an address of
 * an RDMA device's interface (default, as dsm-testdrv's: the first IPv4
 * address of an interface that is up and not loopback).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <arpa/inet.h>
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
#include "../tests/local_addr.h"

int64_t dsm_ping(struct dsm *d, int node, uint32_t reply_len);   /* library-internal */

#define PAGE DSM_PAGE_SIZE
#define BENCH_ROUNDS 4

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
    pthread_t thread;
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

static int uffd_floor_setup(struct uffd_floor *f, size_t pages)
{
    memset(f, 0, sizeof(*f));
    f->pages = pages;
    f->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = { .api = UFFD_API };
    if (f->uffd < 0 || ioctl(f->uffd, UFFDIO_API, &api) < 0) {
        perror("userfaultfd");
        return -1;
    }
    f->mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(f->mem, pages * PAGE, MADV_NOHUGEPAGE);
    struct uffdio_register reg = {
        .range = { (uintptr_t)f->mem, pages * PAGE }, .mode = UFFDIO_REGISTER_MODE_MISSING,
    };
    if (ioctl(f->uffd, UFFDIO_REGISTER, &reg) < 0) {
        perror("UFFDIO_REGISTER");
        return -1;
    }
    pthread_create(&f->thread, NULL, uffd_resolver, f);
    return 0;
}

/* Times first touches of pages [from, to) of the floor region. */
static void uffd_floor_measure(struct uffd_floor *f, size_t from, size_t to, uint64_t *lat)
{
    for (size_t i = from; i < to; i++) {
        uint64_t t0 = now_ns();
        (void)*(volatile uint8_t *)(f->mem + i * PAGE);
        lat[i] = now_ns() - t0;
    }
}

static void uffd_floor_teardown(struct uffd_floor *f)
{
    __atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
    pthread_join(f->thread, NULL);
    close(f->uffd);
    munmap(f->mem, f->pages * PAGE);
}

/* ---- DSM runs ---------------------------------------------------------------- */

struct result {
    struct dist uffd, rtt, read, write;
};

/* Every round starts and ends together on all nodes; a failed barrier
 * would only give wrong figures. */
static void barrier(struct dsm *d, int node)
{
    int rc = dsm_barrier(d, 0);
    if (rc < 0) {
        fprintf(stderr, "node %d: dsm_barrier: %s\n", node, strerror(-rc));
        exit(1);
    }
}

#define NTRANSPORTS 3

static const char *rdma_addr;

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
    } else if (!strcmp(transport, "rdma")) {
        cfg.transport = DSM_TRANSPORT_RDMA;
        cfg.rdma_addrs = addrv;
        close(listen_fd);   /* only reserved a port number */
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
    int rc = dsm_add_region(d, mem, size);
    if (rc < 0) {
        fprintf(stderr, "node %d: dsm_add_region: %s\n", node, strerror(-rc));
        return 1;
    }
    if (dsm_start(d, err, sizeof(err)) < 0) {
        fprintf(stderr, "node %d: start: %s\n", node, err);
        return 1;
    }
    uint64_t *rd = calloc(pages, sizeof(uint64_t)), *wr = calloc(pages, sizeof(uint64_t));
    uint64_t *rtt = calloc(pages, sizeof(uint64_t)), *uf = calloc(pages, sizeof(uint64_t));
    struct uffd_floor floor;
    if (node == 0) {
        if (uffd_floor_setup(&floor, pages) < 0) {
            return 1;
        }
        for (size_t i = 0; i < 50; i++) {
            dsm_ping(d, 1, PAGE);   /* warm-up */
        }
    }
    for (size_t round = 0; round < BENCH_ROUNDS; round++) {
        size_t from = pages * round / BENCH_ROUNDS, to = pages * (round + 1) / BENCH_ROUNDS;
        barrier(d, node);
        if (node == 0) {
            uffd_floor_measure(&floor, from, to, uf);
            for (size_t i = from; i < to; i++) {
                int64_t t = dsm_ping(d, 1, PAGE);
                rtt[i] = t > 0 ? (uint64_t)t : 0;
            }
        }
        if (node == 1) {
            for (size_t i = from; i < to; i++) {
                mem[i * PAGE] = 1;          /* node 1 owns them, Modified */
            }
        }
        barrier(d, node);
        if (node == 0) {
            for (size_t i = from; i < to; i++) {
                uint64_t t0 = now_ns();
                (void)*(volatile uint8_t *)(mem + i * PAGE);
                rd[i] = now_ns() - t0;
            }
        }
        barrier(d, node);
        if (node == 1) {
            for (size_t i = from; i < to; i++) {
                mem[i * PAGE] = 2;          /* Modified on node 1 again */
            }
        }
        barrier(d, node);
        if (node == 0) {
            for (size_t i = from; i < to; i++) {
                uint64_t t0 = now_ns();
                *(volatile uint8_t *)(mem + i * PAGE) = 3;
                wr[i] = now_ns() - t0;
            }
        }
    }
    if (node == 0) {
        uffd_floor_teardown(&floor);
        struct result r;
        r.uffd = summarize(uf, pages);
        r.rtt = summarize(rtt, pages);
        r.read = summarize(rd, pages);
        r.write = summarize(wr, pages);
        if (write(result_fd, &r, sizeof(r)) != sizeof(r)) {
            perror("result pipe");
        }
    }
    barrier(d, node);
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
    char addrs[DSM_MAX_NODES * 72] = "";
    int rdma = !strcmp(transport, "rdma");
    for (int i = 0; i < nodes; i++) {
        /* rdma: a port free here is as free in the rdma_cm port space */
        lfd[i] = listen_any(&port);
        char one[72];
        snprintf(one, sizeof(one), "%s%s:%d", i ? "," : "", rdma ? rdma_addr : "127.0.0.1",
                 port);
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
        { "spin-ns", 1, 0, 's' }, { "json", 0, 0, 'j' }, { "rdma-addr", 1, 0, 'A' },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'N': nodes = atoi(optarg); break;
        case 'p': pages = (size_t)atol(optarg); break;
        case 'x': which = optarg; break;
        case 's': spin_ns = atol(optarg); break;
        case 'j': json = 1; break;
        case 'A': rdma_addr = optarg; break;
        default:
            fprintf(stderr, "usage: dsm-bench [--nodes N] [--pages P] "
                    "[--transport tcp|shm|rdma|both] [--rdma-addr IP] [--spin-ns NS] "
                    "[--json]\n");
            return 2;
        }
    }
    if (nodes < 2 || nodes > DSM_MAX_NODES || pages < 10 * BENCH_ROUNDS) {
        fprintf(stderr, "dsm-bench: need 2..%d nodes and at least %d pages\n", DSM_MAX_NODES,
                10 * BENCH_ROUNDS);
        return 2;
    }
    /* Also the uffd round trip in a fresh, otherwise idle process (its
     * threads are joined before the forks below). */
    struct dist solo = { 0, 0 };
    {
        struct uffd_floor f;
        uint64_t *lat = calloc(pages, sizeof(uint64_t));
        if (uffd_floor_setup(&f, pages) == 0) {
            uffd_floor_measure(&f, 0, pages, lat);
            uffd_floor_teardown(&f);
            solo = summarize(lat, pages);
        }
        free(lat);
    }
    char rdma_addr_buf[64];
    if (!rdma_addr) {
        rdma_addr = dsm_default_rdma_addr(rdma_addr_buf, sizeof(rdma_addr_buf));
    }
    const char *names[NTRANSPORTS] = { "tcp", "shm", "rdma" };
    struct result r[NTRANSPORTS];
    int have[NTRANSPORTS] = { 0, 0, 0 }, rc = 0;
    for (int t = 0; t < NTRANSPORTS; t++) {
        int in_both = t < 2;
        if (!(in_both && !strcmp(which, "both")) && strcmp(which, names[t])) {
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
    double load = 0;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load) != 1) {
            load = 0;
        }
        fclose(la);
    }
    if (json) {
        printf("{\"nodes\": %d, \"samples\": %zu, \"cpus\": %ld, \"loadavg\": %.2f, "
               "\"uffd_rtt_standalone_us\": {\"median\": %.2f, \"p99\": %.2f}", nodes, pages,
               cpus, load, solo.median_us, solo.p99_us);
        for (int t = 0; t < NTRANSPORTS; t++) {
            if (!have[t]) {
                continue;
            }
            double floor = r[t].uffd.median_us + r[t].rtt.median_us;
            printf(", \"%s\": {"
                   "\"uffd_rtt_us\": {\"median\": %.2f, \"p99\": %.2f}, "
                   "\"transport_rtt_4k_us\": {\"median\": %.2f, \"p99\": %.2f}, "
                   "\"read_fault_us\": {\"median\": %.2f, \"p99\": %.2f}, "
                   "\"write_fault_us\": {\"median\": %.2f, \"p99\": %.2f}, "
                   "\"floor_us\": %.2f, \"read_over_floor\": %.3f, "
                   "\"read_over_standalone_floor\": %.3f}", names[t],
                   r[t].uffd.median_us, r[t].uffd.p99_us, r[t].rtt.median_us, r[t].rtt.p99_us,
                   r[t].read.median_us, r[t].read.p99_us, r[t].write.median_us,
                   r[t].write.p99_us, floor, r[t].read.median_us / floor,
                   r[t].read.median_us / (solo.median_us + r[t].rtt.median_us));
        }
        printf("}\n");
        return rc;
    }
    printf("dsm-bench: %d nodes, %zu samples each, %ld CPUs, load average %.2f (times in us)\n",
           nodes, pages, cpus, load);
    printf("floor = uffd round trip (fault, another thread UFFDIO_COPYs) + transport round\n"
           "trip (small request, 4 KiB reply); measured by node 0 interleaved with the faults\n");
    printf("%-4s %15s %15s %15s %15s %6s %s\n", "", "uffd med/p99", "rtt4K med/p99",
           "read med/p99", "write med/p99", "floor", "read/floor");
    for (int t = 0; t < NTRANSPORTS; t++) {
        if (!have[t]) {
            continue;
        }
        double floor = r[t].uffd.median_us + r[t].rtt.median_us;
        double ratio = r[t].read.median_us / floor;
        printf("%-4s %7.1f/%-7.1f %7.1f/%-7.1f %7.1f/%-7.1f %7.1f/%-7.1f %6.1f %.2fx %s\n",
               names[t], r[t].uffd.median_us, r[t].uffd.p99_us, r[t].rtt.median_us,
               r[t].rtt.p99_us, r[t].read.median_us, r[t].read.p99_us, r[t].write.median_us,
               r[t].write.p99_us, floor, ratio,
               ratio <= 1.5 ? "(goal <= 1.5x: met)" : "(goal <= 1.5x: missed)");
    }
    printf("uffd round trip in a fresh idle process: median %.1f p99 %.1f; with it as the uffd\n"
           "part of the floor:", solo.median_us, solo.p99_us);
    for (int t = 0; t < NTRANSPORTS; t++) {
        if (have[t]) {
            double floor = solo.median_us + r[t].rtt.median_us;
            printf(" %s floor %.1f, read/floor %.2fx;", names[t], floor,
                   r[t].read.median_us / floor);
        }
    }
    printf("\n");
    return rc;
}
