/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * dsmvm guest <-> host hypercall ABI.
 *
 * This header is shared by the guest kernel and the host (QEMU).  The guest
 * kernel carries an identical copy as arch/x86/include/asm/dsmvm_hypercall.h;
 * hypercalls/check-abi-sync.sh verifies that both define the same constants.
 * See hypercalls/ABI.md for the full description.
 */
#ifndef DSMVM_HYPERCALL_H
#define DSMVM_HYPERCALL_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#endif

/* Detection: CPUID leaves, consulted only if CPUID.1:ECX.hypervisor[31] = 1 */
#define DSMVM_CPUID_SIGNATURE		0x40000100U
#define DSMVM_CPUID_FEATURES		0x40000101U
#define DSMVM_CPUID_MAX_LEAF		DSMVM_CPUID_FEATURES

/* "DsmVmDsmVmDs" as returned in ebx, ecx, edx of DSMVM_CPUID_SIGNATURE */
#define DSMVM_SIGNATURE_EBX		0x566d7344U	/* "DsmV" */
#define DSMVM_SIGNATURE_ECX		0x6d73446dU	/* "mDsm" */
#define DSMVM_SIGNATURE_EDX		0x73446d56U	/* "VmDs" */

/* DSMVM_CPUID_FEATURES.eax and DSMVM_HC_FEATURES result */
#define DSMVM_FEATURE_DOORBELL		(1U << 0)
#define DSMVM_FEATURE_WRITE_UPDATE	(1U << 1)
#define DSMVM_FEATURE_WU_PUBLISH	(1U << 2)

/* Doorbell: 32-bit OUT to this I/O port (DSMVM_CPUID_FEATURES.ebx) */
#define DSMVM_DOORBELL_PORT_DEFAULT	0x5644U

/* Call numbers, in eax at the OUT instruction */
#define DSMVM_HC_FEATURES		0U
#define DSMVM_HC_WU_REGISTER		1U
#define DSMVM_HC_WU_WRITE64		2U
#define DSMVM_HC_WU_PUBLISH		3U

/* Write-update areas: page granular */
#define DSMVM_WU_PAGE_SIZE		4096U

/* Results in rax: 0 or a negated error number (Linux x86 errno values) */
#define DSMVM_HC_OK			0
#define DSMVM_HC_EPERM			1
#define DSMVM_HC_EFAULT			14
#define DSMVM_HC_EBUSY			16
#define DSMVM_HC_EEXIST			17
#define DSMVM_HC_EINVAL			22
#define DSMVM_HC_ENOSPC			28
#define DSMVM_HC_ENOSYS			38
#define DSMVM_HC_EOPNOTSUPP		95

/* Largest error value: rax in [-4095, -1] is an error */
#define DSMVM_HC_MAX_ERRNO		4095

#endif /* DSMVM_HYPERCALL_H */
