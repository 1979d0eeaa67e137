/* uffd.h - thin userfaultfd wrappers for the page-state transitions. */
#ifndef DSM_UFFD_H
#define DSM_UFFD_H

#include <stddef.h>
#include <stdint.h>

struct dsm_uffd_features {
    int wp_unpopulated;     /* WP also marks pages never populated */
    int exact_address;      /* fault addresses keep their in-page offset */
    int thread_id;          /* fault messages carry the faulting thread id */
};

/* Opens a userfaultfd that also catches kernel-mode accesses (no
 * UFFD_USER_MODE_ONLY), with WP_UNPOPULATED, EXACT_ADDRESS and THREAD_ID
 * when the kernel has them (*got says which). Returns fd, or -errno with
 * a message in err. */
int dsm_uffd_open(struct dsm_uffd_features *got, char *err, size_t errlen);

/* MADV_NOHUGEPAGE, discard content, register MISSING|WP.  0, or -errno
 * with a message in err. */
int dsm_uffd_register(int uffd, void *base, size_t len, char *err, size_t errlen);
int dsm_uffd_unregister(int uffd, void *base, size_t len);

/* Installs one page from src: writable, or write-protected if wp.
 * Returns 0, 1 if the page was already present (EEXIST: resolved by a
 * racing install; waiters are woken), -1 on error. */
int dsm_uffd_install(int uffd, void *page, const void *src, int wp);

/* Sets or clears write protection of one page (clearing wakes waiters). */
int dsm_uffd_wp(int uffd, void *page, int protect);

int dsm_uffd_wake(int uffd, void *page);

/* Maps [base, base+len) to the zero page, writable (a write makes a private
 * copy in the kernel, without a fault here).  0 or -1. */
int dsm_uffd_zero_range(int uffd, void *base, size_t len);

/* Drops a page: the next access faults as missing. */
int dsm_uffd_drop(void *page);

#endif
