/* shm-rogue.c - a process that attaches to a node's shm file as node 1 and
 * fails the handshake in one way (--kind):
 *   garbage  a 4 KiB record of random bytes where a hello belongs
 *   version  a hello of another protocol version
 *   secret   a full handshake with another cluster secret
 *   exit     a correct hello, then exits before authenticating
 *   silent   attaches and sends nothing for --hold-ms (default 8000)
 * It reuses the transport's own ring code (this file includes
 * transport_shm.c), so only the handshake content is wrong.  Exit 0 when
 * it did its part (and, for version and secret, saw the node refuse it).
 */
#include "../transport_shm.c"

#include <getopt.h>
#include <sys/random.h>

int main(int argc, char **argv)
{
    const char *name = NULL, *kind = NULL;
    int hold_ms = 8000;
    static const struct option lo[] = {
        { "shm-name", 1, 0, 's' }, { "kind", 1, 0, 'k' }, { "hold-ms", 1, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's': name = optarg; break;
        case 'k': kind = optarg; break;
        case 'h': hold_ms = atoi(optarg); break;
        default: return 2;
        }
    }
    if (!name || !kind) {
        fprintf(stderr, "usage: shm-rogue --shm-name NAME --kind garbage|version|secret|exit|"
                "silent [--hold-ms MS]\n");
        return 2;
    }
    static struct shm_transport rogue;
    struct shm_transport *t = &rogue;
    char err[512];
    t->base.params.hs.self = 1;
    t->base.params.hs.num_nodes = 2;
    t->base.params.connect_timeout_ms = 30000;
    t->base.params.io_timeout_ms = 5000;
    snprintf(t->path, sizeof(t->path), "/dev/shm/%s", name);
    if (open_file(t, err, sizeof(err)) < 0) {
        fprintf(stderr, "shm-rogue: %s\n", err);
        return 1;
    }
    atomic_store(&file_hdr(t)->nodes[1].pid, (int)getpid());
    atomic_store(&file_hdr(t)->nodes[1].attached, 1);
    if (!strcmp(kind, "silent")) {
        usleep((useconds_t)hold_ms * 1000);
        return 0;
    }
    /* node 0 sends its hello first: copy its layout so that only one thing differs */
    struct dsm_hello theirs, mine;
    t->hs_peer = 0;
    t->hs_deadline = dsm_now_ms() + 30000;
    if (hs_recv(t, &theirs, sizeof(theirs)) != 0) {
        fprintf(stderr, "shm-rogue: no hello from node 0\n");
        return 1;
    }
    struct dsm_hs_params *p = &t->base.params.hs;
    p->nregions = theirs.nregions < DSM_MAX_REGIONS ? theirs.nregions : DSM_MAX_REGIONS;
    for (int i = 0; i < p->nregions; i++) {
        p->region_sizes[i] = theirs.region_sizes[i];
    }
    p->secret = "not-the-cluster-secret";
    p->secret_len = strlen(p->secret);
    const char *why = NULL;
    if (!strcmp(kind, "garbage")) {
        uint8_t junk[4096];
        if (getrandom(junk, sizeof(junk), 0) < 0) {
            return 1;
        }
        return ring_put(t, 0, junk, sizeof(junk), NULL, 0, &why) ? 1 : 0;
    }
    dsm_hello_build(p, &mine);
    if (!strcmp(kind, "exit")) {
        return ring_put(t, 0, &mine, sizeof(mine), NULL, 0, &why) ? 1 : 0;
    }
    if (!strcmp(kind, "version")) {
        struct dsm_auth auth;
        mine.version++;
        memset(&auth, 0, sizeof(auth));
        if (ring_put(t, 0, &mine, sizeof(mine), NULL, 0, &why) ||
            ring_put(t, 0, &auth, sizeof(auth), NULL, 0, &why) ||
            hs_recv(t, &auth, sizeof(auth)) != 0) {
            fprintf(stderr, "shm-rogue: no refusal from node 0\n");
            return 1;
        }
        auth.reason[sizeof(auth.reason) - 1] = 0;
        printf("node 0 answered: refused=%u %s\n", auth.refused, auth.reason);
        return auth.refused && strstr(auth.reason, "protocol version differs") ? 0 : 1;
    }
    if (!strcmp(kind, "secret")) {
        /* the hello was read already: replay it to the handshake */
        struct dsm_hs_io io = { .opaque = t, .send = hs_send, .recv = hs_recv };
        t->hs_deadline = dsm_now_ms() + 30000;
        /* dsm_handshake() sends its own hello then reads node 0's: put node
         * 0's hello back by rewinding the consumer over its record */
        struct shm_ring_ctl *r = ring(t, 0, 1);
        uint64_t rec = (SHM_REC_HDR + sizeof(theirs) + 7) & ~7ull;
        atomic_store(&r->head, atomic_load(&r->head) - rec);
        int rc = dsm_handshake(p, &io, 0, err, sizeof(err));
        printf("handshake: %d %s\n", rc, err);
        return rc < 0 && strstr(err, "secret differs") ? 0 : 1;
    }
    fprintf(stderr, "shm-rogue: unknown kind %s\n", kind);
    return 2;
}
