/* uffd.c - userfaultfd setup and ioctls. */
#define _GNU_SOURCE
#include "uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dsm.h"

#define UFFD_EAGAIN_TRIES 1000

/* Newer than the installed uapi headers (Linux 6.4). */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_EXACT_ADDRESS
#define UFFD_FEATURE_EXACT_ADDRESS (1 << 11)
#endif

static int uffd_api(int fd, uint64_t features, uint64_t *avail)
{
    struct uffdio_api api = { .api = UFFD_API, .features = features };
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        return -1;
    }
    if (avail) {
        *avail = api.features;
    }
    return 0;
}

int dsm_uffd_open(struct dsm_uffd_features *got, char *err, size_t errlen)
{
    /* UFFDIO_API may be issued once per fd: probe features on a scratch fd. */
    uint64_t avail = 0;
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "userfaultfd: %s (needs CAP_SYS_PTRACE or "
                 "vm.unprivileged_userfaultfd=1 for kernel-mode faults)", strerror(e));
        return -e;
    }
    if (uffd_api(fd, 0, &avail) < 0) {
        int e = errno;
        snprintf(err, errlen, "UFFDIO_API: %s", strerror(e));
        close(fd);
        return -e;
    }
    close(fd);
    /* Exact addresses and thread ids cost nothing and let probes name the
     * faulting byte and vCPU thread. */
    uint64_t want = avail & (UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_EXACT_ADDRESS |
                             UFFD_FEATURE_THREAD_ID);
    got->wp_unpopulated = (want & UFFD_FEATURE_WP_UNPOPULATED) != 0;
    got->exact_address = (want & UFFD_FEATURE_EXACT_ADDRESS) != 0;
    got->thread_id = (want & UFFD_FEATURE_THREAD_ID) != 0;
    fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || uffd_api(fd, want, NULL) < 0) {
        int e = errno;
        snprintf(err, errlen, "userfaultfd/UFFDIO_API: %s", strerror(e));
        if (fd >= 0) {
            close(fd);
        }
        return -e;
    }
    return fd;
}

int dsm_uffd_register(int uffd, void *base, size_t len, char *err, size_t errlen)
{
    int e;
    /* Huge pages would defeat page-granular ownership. */
    if (madvise(base, len, MADV_NOHUGEPAGE) < 0) {
        e = errno;
        snprintf(err, errlen, "madvise(NOHUGEPAGE): %s", strerror(e));
        return -e;
    }
    /* Nothing is resident at start: pages arrive through faults. */
    if (madvise(base, len, MADV_DONTNEED) < 0) {
        e = errno;
        snprintf(err, errlen, "madvise(DONTNEED): %s", strerror(e));
        return -e;
    }
    struct uffdio_register reg = {
        .range = { .start = (uintptr_t)base, .len = len },
        .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
    };
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
        e = errno;
        snprintf(err, errlen, "UFFDIO_REGISTER(MISSING|WP) [%p, +%zu): %s", base, len,
                 strerror(e));
        return -e;
    }
    uint64_t need = (1ull << _UFFDIO_COPY) | (1ull << _UFFDIO_WRITEPROTECT) |
                    (1ull << _UFFDIO_WAKE);
    if ((reg.ioctls & need) != need) {
        snprintf(err, errlen, "kernel lacks UFFDIO_COPY/WRITEPROTECT on this memory "
                 "(ioctls 0x%llx); anonymous private memory is required",
                 (unsigned long long)reg.ioctls);
        return -EOPNOTSUPP;
    }
    return 0;
}

int dsm_uffd_unregister(int uffd, void *base, size_t len)
{
    struct uffdio_range r = { .start = (uintptr_t)base, .len = len };
    return ioctl(uffd, UFFDIO_UNREGISTER, &r);
}

int dsm_uffd_install(int uffd, void *page, const void *src, int wp)
{
    struct uffdio_copy c = {
        .dst = (uintptr_t)page,
        .src = (uintptr_t)src,
        .len = DSM_PAGE_SIZE,
        .mode = wp ? UFFDIO_COPY_MODE_WP : 0,
    };
    for (int tries = 0; tries < UFFD_EAGAIN_TRIES; tries++) {
        c.copy = 0;
        if (ioctl(uffd, UFFDIO_COPY, &c) == 0) {
            return 0;
        }
        if (errno == EEXIST) {
            dsm_uffd_wake(uffd, page);
            return 1;
        }
        if (errno != EAGAIN) {
            return -1;
        }
        /* the address space is changing under us (mremap, fork...): retry */
    }
    return -1;
}

int dsm_uffd_wp(int uffd, void *page, int protect)
{
    struct uffdio_writeprotect w = {
        .range = { .start = (uintptr_t)page, .len = DSM_PAGE_SIZE },
        .mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
    };
    for (int tries = 0; tries < UFFD_EAGAIN_TRIES; tries++) {
        if (ioctl(uffd, UFFDIO_WRITEPROTECT, &w) == 0) {
            return 0;
        }
        if (errno != EAGAIN) {
            return -1;
        }
    }
    return -1;
}

int dsm_uffd_wake(int uffd, void *page)
{
    struct uffdio_range r = { .start = (uintptr_t)page, .len = DSM_PAGE_SIZE };
    return ioctl(uffd, UFFDIO_WAKE, &r);
}

int dsm_uffd_drop(void *page)
{
    return madvise(page, DSM_PAGE_SIZE, MADV_DONTNEED);
}

int dsm_uffd_zero_range(int uffd, void *base, size_t len)
{
    struct uffdio_zeropage z = {
        .range = { .start = (uintptr_t)base, .len = len },
        .mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE,
    };
    for (int tries = 0; tries < UFFD_EAGAIN_TRIES; tries++) {
        z.zeropage = 0;
        if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) == 0) {
            return 0;
        }
        if (errno != EAGAIN) {
            return -1;
        }
        /* partially done (z.zeropage bytes): go on from there */
        if (z.zeropage > 0) {
            z.range.start += (uint64_t)z.zeropage;
            z.range.len -= (uint64_t)z.zeropage;
        }
    }
    return -1;
}
