/*
 * dsmvm: the cluster description, one file read by every node.
 *
 *   [cluster]
 *   transport = tcp            # tcp (default) or shm (all nodes on one host)
 *   secret = some-long-string  # or: secret-file = /path (first line)
 *   device-node = 0            # the node that hosts the devices (default 0)
 *   connect-timeout = 30       # seconds to wait for the peers (default 30)
 *   read-ahead = 8             # pages sent ahead of a read by their
 *                              # owner-manager (0 = off, at most 64;
 *                              # default 8)
 *   shm-name = dsmvm-guest1    # shm transport: name under /dev/shm
 *   vcpu-nice = 10             # vCPU threads run this much nicer than
 *                              # the node's DSM and I/O threads (0-19,
 *                              # default 10; 0 = same priority)
 *
 *   [node0]
 *   address = 10.0.0.1:7100    # host:port this node listens on
 *   cpus = 0                   # vCPUs it runs: "0", "0-3", "0,2,5-7"
 *   [node1]
 *   ...
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_DSMVM_CLUSTER_H
#define HW_DSMVM_CLUSTER_H

#include "qapi/error.h"

#define DSMVM_MAX_NODES 64
#define DSMVM_MAX_VCPUS 1024

typedef enum DsmvmTransport {
    DSMVM_TRANSPORT_TCP,
    DSMVM_TRANSPORT_SHM,
    DSMVM_TRANSPORT_RDMA,   /* addresses are rdma_cm IP:port (RoCE/IPoIB) */
} DsmvmTransport;

typedef struct DsmvmCluster {
    int num_nodes;
    int device_node;
    DsmvmTransport transport;
    char *secret;
    char *shm_name;
    int connect_timeout_s;
    int read_ahead_pages;
    int exclusive_reads;     /* 0 or 1: dsm_config.exclusive_reads */
    int vcpu_nice;
    char *addresses[DSMVM_MAX_NODES];
    /* cpu_node[i]: the node that runs vCPU i; -1 when no node claims it */
    int cpu_node[DSMVM_MAX_VCPUS];
    int num_cpus;       /* highest claimed vCPU + 1 */
    /* hash of the file: every node must read the same one */
    char *digest;
} DsmvmCluster;

DsmvmCluster *dsmvm_cluster_load(const char *path, Error **errp);
DsmvmCluster *dsmvm_cluster_parse(const char *text, size_t len, Error **errp);
void dsmvm_cluster_free(DsmvmCluster *c);

#endif
