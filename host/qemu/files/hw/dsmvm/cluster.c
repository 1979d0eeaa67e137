/*
 * dsmvm: parse and validate the cluster description.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "cluster.h"

/* "0", "0-3", "0,2,5-7": marks each vCPU as run by node. */
static bool parse_cpus(DsmvmCluster *c, int node, const char *spec,
                       Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);

    for (char **p = parts; *p; p++) {
        g_autofree char *item = g_strstrip(g_strdup(*p));
        const char *dash = strchr(item, '-');
        uint64_t first, last;
        const char *end;

        if (dash) {
            g_autofree char *lo = g_strndup(item, dash - item);
            if (qemu_strtou64(lo, &end, 10, &first) || *end ||
                qemu_strtou64(dash + 1, &end, 10, &last) || *end) {
                goto bad;
            }
        } else {
            if (qemu_strtou64(item, &end, 10, &first) || *end) {
                goto bad;
            }
            last = first;
        }
        if (first > last || last >= DSMVM_MAX_VCPUS) {
            goto bad;
        }
        for (uint64_t cpu = first; cpu <= last; cpu++) {
            if (c->cpu_node[cpu] >= 0) {
                error_setg(errp,
                           "vCPU %" PRIu64 " is claimed by node%d and node%d",
                           cpu, c->cpu_node[cpu], node);
                return false;
            }
            c->cpu_node[cpu] = node;
            c->num_cpus = MAX(c->num_cpus, (int)cpu + 1);
        }
        continue;
bad:
        error_setg(errp, "node%d: bad cpus item '%s' "
                   "(expected N or N-M, N < %d)",
                   node, item, DSMVM_MAX_VCPUS);
        return false;
    }
    return true;
}

static bool valid_address(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    uint64_t port;

    return colon && colon != addr &&
           !qemu_strtou64(colon + 1, NULL, 10, &port) &&
           port > 0 && port < 65536;
}

/*
 * An optional integer key of [cluster]: def when absent, else a value in
 * min..max, or the error "KEY must be WHAT".
 */
static bool cluster_int(GKeyFile *kf, const char *key, int def, int min,
                        int max, const char *what, int *val, Error **errp)
{
    g_autoptr(GError) e = NULL;

    if (!g_key_file_has_key(kf, "cluster", key, NULL)) {
        *val = def;
        return true;
    }
    *val = g_key_file_get_integer(kf, "cluster", key, &e);
    if (e || *val < min || *val > max) {
        error_setg(errp, "%s must be %s", key, what);
        return false;
    }
    return true;
}

DsmvmCluster *dsmvm_cluster_parse(const char *text, size_t len, Error **errp)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) gerr = NULL;
    DsmvmCluster *c = g_new0(DsmvmCluster, 1);
    g_autofree char *transport = NULL;
    g_autofree char *secret_file = NULL;
    GError *e = NULL;

    for (int i = 0; i < DSMVM_MAX_VCPUS; i++) {
        c->cpu_node[i] = -1;
    }
    c->digest = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                            (const guchar *)text, len);

    if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &gerr)) {
        error_setg(errp, "cannot parse: %s", gerr->message);
        goto fail;
    }
    if (!g_key_file_has_group(kf, "cluster")) {
        error_setg(errp, "no [cluster] section");
        goto fail;
    }

    transport = g_key_file_get_string(kf, "cluster", "transport", NULL);
    if (!transport || !strcmp(transport, "tcp")) {
        c->transport = DSMVM_TRANSPORT_TCP;
    } else if (!strcmp(transport, "shm")) {
        c->transport = DSMVM_TRANSPORT_SHM;
    } else if (!strcmp(transport, "rdma")) {
        c->transport = DSMVM_TRANSPORT_RDMA;
    } else {
        error_setg(errp, "transport must be tcp, shm or rdma, not '%s'",
                   transport);
        goto fail;
    }

    c->secret = g_key_file_get_string(kf, "cluster", "secret", NULL);
    secret_file = g_key_file_get_string(kf, "cluster", "secret-file", NULL);
    if (secret_file) {
        g_autofree char *contents = NULL;
        if (c->secret) {
            error_setg(errp, "give either secret or secret-file, not both");
            goto fail;
        }
        if (!g_file_get_contents(secret_file, &contents, NULL, &e)) {
            error_setg(errp, "secret-file: %s", e->message);
            g_error_free(e);
            goto fail;
        }
        c->secret = g_strdup(g_strstrip(contents));
    }
    if (!c->secret || strlen(c->secret) < 8) {
        error_setg(errp, "a cluster secret of at least 8 characters is "
                   "required (secret = ... or secret-file = ... in [cluster])");
        goto fail;
    }

    c->device_node = g_key_file_has_key(kf, "cluster", "device-node", NULL) ?
        g_key_file_get_integer(kf, "cluster", "device-node", &e) : 0;
    if (e) {
        error_setg(errp, "device-node: %s", e->message);
        g_error_free(e);
        goto fail;
    }
    if (!cluster_int(kf, "connect-timeout", 30, 1, INT_MAX,
                     "a positive number of seconds", &c->connect_timeout_s,
                     errp) ||
        !cluster_int(kf, "read-ahead", 8, 0, 64,
                     "a number of pages from 0 to 64", &c->read_ahead_pages,
                     errp) ||
        !cluster_int(kf, "exclusive-reads", 1, 0, 1, "0 (off) or 1 (on)",
                     &c->exclusive_reads, errp) ||
        !cluster_int(kf, "vcpu-nice", 10, 0, 19, "a number from 0 to 19",
                     &c->vcpu_nice, errp)) {
        goto fail;
    }
    c->shm_name = g_key_file_get_string(kf, "cluster", "shm-name", NULL);
    if (c->transport == DSMVM_TRANSPORT_SHM &&
        (!c->shm_name || !*c->shm_name || strchr(c->shm_name, '/'))) {
        error_setg(errp, "the shm transport needs shm-name = NAME (no '/') "
                   "in [cluster]");
        goto fail;
    }

    /* Nodes are [node0] .. [nodeN-1], with no gap. */
    while (c->num_nodes < DSMVM_MAX_NODES) {
        g_autofree char *group = g_strdup_printf("node%d", c->num_nodes);
        g_autofree char *cpus = NULL;

        if (!g_key_file_has_group(kf, group)) {
            break;
        }
        c->addresses[c->num_nodes] = g_key_file_get_string(kf, group,
                                                           "address", NULL);
        if (c->transport != DSMVM_TRANSPORT_SHM &&
            (!c->addresses[c->num_nodes] ||
             !valid_address(c->addresses[c->num_nodes]))) {
            error_setg(errp, "[%s] needs address = HOST:PORT", group);
            goto fail;
        }
        cpus = g_key_file_get_string(kf, group, "cpus", NULL);
        if (!cpus || !parse_cpus(c, c->num_nodes, cpus, errp)) {
            if (!cpus) {
                error_setg(errp, "[%s] needs cpus = LIST", group);
            }
            goto fail;
        }
        c->num_nodes++;
    }
    if (c->num_nodes == 0) {
        error_setg(errp, "no [node0] section");
        goto fail;
    }
    {
        gsize ngroups;
        g_auto(GStrv) groups = g_key_file_get_groups(kf, &ngroups);
        if (ngroups != (gsize)c->num_nodes + 1) {
            error_setg(errp,
                       "sections must be [cluster] and [node0] .. [nodeN-1] "
                       "with no gap; found %zu sections for %d nodes",
                       (size_t)ngroups, c->num_nodes);
            goto fail;
        }
    }
    if (c->device_node < 0 || c->device_node >= c->num_nodes) {
        error_setg(errp, "device-node %d is not one of the %d nodes",
                   c->device_node, c->num_nodes);
        goto fail;
    }
    for (int i = 0; i < c->num_cpus; i++) {
        if (c->cpu_node[i] < 0) {
            error_setg(errp, "vCPU %d is not run by any node "
                       "(vCPUs 0..%d must all be listed)",
                       i, c->num_cpus - 1);
            goto fail;
        }
    }
    if (c->cpu_node[0] != c->device_node) {
        error_setg(errp, "vCPU 0 (the boot CPU) must run on the device node "
                   "(node%d)", c->device_node);
        goto fail;
    }
    return c;

fail:
    dsmvm_cluster_free(c);
    return NULL;
}

DsmvmCluster *dsmvm_cluster_load(const char *path, Error **errp)
{
    g_autofree char *text = NULL;
    gsize len;
    GError *e = NULL;
    DsmvmCluster *c;
    Error *local = NULL;

    if (!g_file_get_contents(path, &text, &len, &e)) {
        error_setg(errp, "cluster description: %s", e->message);
        g_error_free(e);
        return NULL;
    }
    c = dsmvm_cluster_parse(text, len, &local);
    if (!c) {
        error_propagate_prepend(errp, local, "cluster description %s: ", path);
    }
    return c;
}

void dsmvm_cluster_free(DsmvmCluster *c)
{
    if (!c) {
        return;
    }
    for (int i = 0; i < DSMVM_MAX_NODES; i++) {
        g_free(c->addresses[i]);
    }
    g_free(c->secret);
    g_free(c->shm_name);
    g_free(c->digest);
    g_free(c);
}
