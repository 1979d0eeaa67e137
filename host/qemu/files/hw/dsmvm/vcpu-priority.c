/*
 * dsmvm: vCPU threads yield the host CPU to the threads that serve the DSM.
 *
 * A vCPU thread keeps its host CPU busy for as long as the guest runs. The
 * threads that answer other nodes' page requests, and this node's fault and
 * I/O threads, sleep until a message or a fault arrives, and every fault on
 * any node waits for one of them to run. Left at the same priority, a woken
 * DSM thread can wait for a busy vCPU thread's time slice, and that wait is
 * added to a fault on another node. Lowering the vCPU threads' priority by
 * vcpu-nice (cluster description) lets the scheduler run them at once.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "hw/core/cpu.h"
#include <sys/resource.h>
#include "internal.h"
#include "trace.h"

void dsmvm_vcpu_priority_apply(DsmvmNode *n)
{
    int delta = n->cluster->vcpu_nice;
    CPUState *cs;

    if (delta == 0) {
        return;
    }
    CPU_FOREACH(cs) {
        int tid = cs->thread_id;
        int nice;

        if (tid <= 0) {
            continue;
        }
        /* Relative to what the process was started with, capped at 19. */
        errno = 0;
        nice = getpriority(PRIO_PROCESS, tid);
        if (nice == -1 && errno) {
            warn_report("dsmvm node%u: cannot read the priority of vCPU %d's "
                        "thread: %s", n->node_id, cs->cpu_index,
                        strerror(errno));
            continue;
        }
        nice = MIN(nice + delta, 19);
        if (setpriority(PRIO_PROCESS, tid, nice) < 0) {
            warn_report("dsmvm node%u: cannot lower the priority of vCPU %d's "
                        "thread: %s", n->node_id, cs->cpu_index,
                        strerror(errno));
            continue;
        }
        trace_dsmvm_vcpu_priority(cs->cpu_index, tid, nice);
    }
}
