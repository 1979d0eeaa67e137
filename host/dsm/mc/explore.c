/* explore.c - depth-first search over every order of steps (dsm-mc).
 *
 * The real instances cannot be copied, so going back to an earlier state
 * means rebuilding fresh instances and replaying the steps that led there
 * (only when a second branch is taken; the first branch continues live).
 * A state whose hash was already explored is not explored again; the
 * number of complete paths through it is remembered, so the count of
 * interleavings stays exact.  --no-prune explores every path one by one.
 *
 * Usage: dsm-mc [options] SCRIPT...    SCRIPT = "0W0 1R0 2U1 0bR1": node,
 *        optional thread (a, or b: a second vCPU of that node), kind (R read,
 *        W write, U write-update), page; each thread runs its own operations
 *        in the order given.
 *   --layout interleaved|homed|both  (default both)
 *   --suite                the fixed scripts of the test suite
 *   --all N [--kinds RW] [--one-page]   every script of N operations (kinds
 *                          from the set; pages 0 and 1, or page 0 only)
 *   --bug early-done|ack-keeps-copy|reorder   inject a bug (or MC_BUG=...)
 *   --expect-violation     succeed only if every script reports a violation
 *   --no-prune             no state hashing: enumerate every path
 *   --max-seconds S        give up (failure) after S seconds
 *   --exclusive-reads on|off   migratory pages asked exclusively (default on)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mc.h"

unsigned mc_exclusive_reads = 1;

struct seen {
    uint64_t hash;
    double paths;      /* complete paths from this state; < 0 while being explored */
};

struct search {
    enum mc_layout layout;
    enum mc_bug bug;
    int prune;
    struct mc_script script;
    struct mc_world w;
    struct mc_step path[MC_MAX_DEPTH];
    int depth, max_depth;
    struct seen *table;
    size_t cap, used;
    uint64_t states, transitions, replays, ends;
    double paths;
    int failed;        /* violation found (or setup failure) */
    double deadline;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- visited states: open addressing on the 64-bit hash ---------------- */

static struct seen *seen_find(struct search *s, uint64_t h, int insert)
{
    if (insert && (s->used + 1) * 2 > s->cap) {
        size_t ocap = s->cap;
        struct seen *old = s->table;
        s->cap = ocap ? ocap * 2 : 1 << 16;
        s->table = calloc(s->cap, sizeof(*s->table));
        if (!s->table) {
            fprintf(stderr, "dsm-mc: out of memory for %zu states\n", s->cap);
            exit(2);
        }
        for (size_t i = 0; i < ocap; i++) {
            if (old[i].hash) {
                size_t j = old[i].hash & (s->cap - 1);
                while (s->table[j].hash) {
                    j = (j + 1) & (s->cap - 1);
                }
                s->table[j] = old[i];
            }
        }
        free(old);
    }
    if (!s->cap) {
        return NULL;
    }
    h |= 1;   /* 0 marks a free slot */
    size_t j = h & (s->cap - 1);
    while (s->table[j].hash) {
        if (s->table[j].hash == h) {
            return &s->table[j];
        }
        j = (j + 1) & (s->cap - 1);
    }
    if (!insert) {
        return NULL;
    }
    s->used++;
    s->table[j].hash = h;
    s->table[j].paths = -1;
    return &s->table[j];
}

/* ---- worlds ------------------------------------------------------------- */

static void rebuild(struct search *s, int steps)
{
    mc_world_fini(&s->w);
    if (mc_world_init(&s->w, s->layout, s->bug, &s->script) < 0) {
        fprintf(stderr, "dsm-mc: cannot create the instances (root or CAP_SYS_PTRACE needed)\n");
        exit(2);
    }
    for (int i = 0; i < steps; i++) {
        mc_world_apply(&s->w, &s->path[i]);
    }
    s->replays++;
}

static void print_script(FILE *f, const struct mc_script *sc)
{
    for (int k = 0; k < sc->nops; k++) {
        fprintf(f, "%s%d%s%c%d", k ? " " : "", sc->ops[k].node, sc->ops[k].thread ? "b" : "",
                sc->ops[k].kind, sc->ops[k].page);
    }
}

static const char *layout_name(enum mc_layout l)
{
    return l == MC_INTERLEAVED ? "interleaved" : "homed";
}

/* Replays the failing path from scratch, describing every step. */
static void print_trace(struct search *s, int steps)
{
    printf("VIOLATION (%s, script \"", layout_name(s->layout));
    print_script(stdout, &s->script);
    printf("\"): %s\ntrace:\n", s->w.violation);
    char why[sizeof(s->w.violation)];
    snprintf(why, sizeof(why), "%s", s->w.violation);
    rebuild(s, 0);
    for (int i = 0; i < steps; i++) {
        mc_world_apply(&s->w, &s->path[i]);
        printf("  %3d  %s\n", i + 1, s->w.last_event);
    }
    if (steps == 0 || !s->w.violation[0]) {
        mc_check_step(&s->w);
    }
    printf("  ->   %s\n", s->w.violation[0] ? s->w.violation : why);
}

/* Explores from the live world (the state after path[0..depth)); returns
 * the number of complete paths from here. */
static double explore(struct search *s)
{
    struct mc_step steps[MC_NODES * MC_NODES * MC_CHAN_MAX + MC_NODES * MC_THREADS];
    int n = mc_world_steps(&s->w, steps);
    s->states++;
    if (s->depth > s->max_depth) {
        s->max_depth = s->depth;
    }
    if (n == 0) {
        mc_check_final(&s->w);
        if (s->w.violation[0]) {
            print_trace(s, s->depth);
            s->failed = 1;
            return 0;
        }
        s->ends++;
        return 1;
    }
    if (s->depth == MC_MAX_DEPTH) {
        mc_violation(&s->w, "a path longer than %d steps (livelock?)", MC_MAX_DEPTH);
        print_trace(s, s->depth);
        s->failed = 1;
        return 0;
    }
    if (now_s() > s->deadline) {
        printf("dsm-mc: time limit reached\n");
        s->failed = 1;
        return 0;
    }
    double total = 0;
    for (int i = 0; i < n && !s->failed; i++) {
        if (i > 0) {
            rebuild(s, s->depth);
        }
        s->path[s->depth] = steps[i];
        mc_world_apply(&s->w, &steps[i]);
        s->transitions++;
        mc_check_step(&s->w);
        if (s->w.violation[0]) {
            print_trace(s, s->depth + 1);
            s->failed = 1;
            return 0;
        }
        uint64_t h = 0;
        if (s->prune) {
            h = mc_hash(&s->w);
            struct seen *e = seen_find(s, h, 0);
            if (e) {
                if (e->paths < 0) {
                    mc_violation(&s->w, "a step sequence returns to an earlier state (livelock)");
                    print_trace(s, s->depth + 1);
                    s->failed = 1;
                    return 0;
                }
                total += e->paths;
                continue;
            }
            seen_find(s, h, 1);
        }
        s->depth++;
        double sub = explore(s);
        s->depth--;
        if (s->prune) {
            seen_find(s, h, 0)->paths = sub;   /* looked up again: the table may have grown */
        }
        total += sub;
    }
    return total;
}

struct totals {
    int scripts, failed;
    uint64_t states, transitions, replays;
    double paths, seconds;
};

static void run_script(struct totals *t, const struct mc_script *sc, enum mc_layout layout,
                       enum mc_bug bug, int prune, double deadline, int quiet)
{
    static struct search s;
    free(s.table);
    memset(&s, 0, sizeof(s));
    s.layout = layout;
    s.bug = bug;
    s.prune = prune;
    s.script = *sc;
    s.deadline = deadline;
    double t0 = now_s();
    if (mc_world_init(&s.w, layout, bug, sc) < 0) {
        fprintf(stderr, "dsm-mc: cannot create the instances (root or CAP_SYS_PTRACE needed)\n");
        exit(2);
    }
    mc_check_step(&s.w);
    s.paths = s.w.violation[0] ? (print_trace(&s, 0), s.failed = 1, 0) : explore(&s);
    mc_world_fini(&s.w);
    double dt = now_s() - t0;
    if (!quiet || s.failed) {
        printf("%-11s \"", layout_name(layout));
        print_script(stdout, sc);
        printf("\": %s  states %llu  transitions %llu  complete paths %.0f  depth %d  "
               "replays %llu  %.2fs\n", s.failed ? "FAILED" : "ok",
               (unsigned long long)s.states, (unsigned long long)s.transitions, s.paths,
               s.max_depth, (unsigned long long)s.replays, dt);
        fflush(stdout);
    }
    t->scripts++;
    t->failed += s.failed;
    t->states += s.states;
    t->transitions += s.transitions;
    t->replays += s.replays;
    t->paths += s.paths;
    t->seconds += dt;
}

static enum mc_bug parse_bug(const char *b)
{
    if (!b || !*b || !strcmp(b, "none")) {
        return MC_BUG_NONE;
    }
    if (!strcmp(b, "early-done")) {
        return MC_BUG_EARLY_DONE;
    }
    if (!strcmp(b, "ack-keeps-copy")) {
        return MC_BUG_ACK_KEEPS_COPY;
    }
    if (!strcmp(b, "reorder")) {
        return MC_BUG_REORDER;
    }
    fprintf(stderr, "dsm-mc: unknown bug \"%s\" (early-done, ack-keeps-copy, reorder)\n", b);
    exit(2);
}

int main(int argc, char **argv)
{
    enum mc_layout layouts[2] = { MC_INTERLEAVED, MC_HOMED };
    int nlayouts = 2, prune = 1, expect_violation = 0, all = 0, use_suite = 0;
    int npages = MC_PAGES;
    const char *kinds = "RW";
    double max_seconds = 3600;
    enum mc_bug bug = parse_bug(getenv("MC_BUG"));
    struct mc_script scripts[64];
    int nscripts = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--layout") && i + 1 < argc) {
            const char *l = argv[++i];
            nlayouts = 1;
            if (!strcmp(l, "interleaved")) {
                layouts[0] = MC_INTERLEAVED;
            } else if (!strcmp(l, "homed")) {
                layouts[0] = MC_HOMED;
            } else {
                nlayouts = 2;
            }
        } else if (!strcmp(a, "--suite")) {
            use_suite = 1;
        } else if (!strcmp(a, "--all") && i + 1 < argc) {
            all = atoi(argv[++i]);
        } else if (!strcmp(a, "--one-page")) {
            npages = 1;
        } else if (!strcmp(a, "--kinds") && i + 1 < argc) {
            kinds = argv[++i];
        } else if (!strcmp(a, "--bug") && i + 1 < argc) {
            bug = parse_bug(argv[++i]);
        } else if (!strcmp(a, "--expect-violation")) {
            expect_violation = 1;
        } else if (!strcmp(a, "--no-prune")) {
            prune = 0;
        } else if (!strcmp(a, "--exclusive-reads") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "on") && strcmp(v, "off")) {
                fprintf(stderr, "dsm-mc: --exclusive-reads takes on or off\n");
                return 2;
            }
            mc_exclusive_reads = !strcmp(v, "on");
        } else if (!strcmp(a, "--max-seconds") && i + 1 < argc) {
            max_seconds = atof(argv[++i]);
        } else if (a[0] != '-' && nscripts < 64) {
            if (mc_parse_script(a, &scripts[nscripts]) < 0) {
                return 2;
            }
            nscripts++;
        } else {
            fprintf(stderr, "usage: dsm-mc [--layout interleaved|homed|both] [--suite] "
                    "[--all N [--kinds RWU] [--one-page]] [--bug early-done|ack-keeps-copy|reorder] "
                    "[--expect-violation] [--no-prune] [--max-seconds S] [--exclusive-reads on|off] "
                    "[SCRIPT...]\n");
            return 2;
        }
    }
    if (use_suite) {
        for (size_t k = 0; mc_suite[k] && nscripts < 64; k++) {
            mc_parse_script(mc_suite[k], &scripts[nscripts++]);
        }
    }
    if (all < 0 || all > MC_MAX_OPS || strspn(kinds, "RWU") != strlen(kinds) || !*kinds) {
        fprintf(stderr, "dsm-mc: --all takes 1..%d, --kinds letters of RWU\n", MC_MAX_OPS);
        return 2;
    }
    if (!nscripts && !all) {
        fprintf(stderr, "dsm-mc: no script (give SCRIPT, --suite or --all N)\n");
        return 2;
    }

    struct totals t = { 0 };
    double deadline = now_s() + max_seconds;
    for (int l = 0; l < nlayouts; l++) {
        for (int k = 0; k < nscripts; k++) {
            run_script(&t, &scripts[k], layouts[l], bug, prune, deadline, 0);
        }
        if (all) {
            struct mc_script sc = { .nops = all };
            for (int j = 0; j < all; j++) {
                sc.ops[j] = (struct mc_op){ 0, 0, (uint8_t)kinds[0], 0, 0 };
                sc.ops[j].value = sc.ops[j].kind == MC_READ ? 0 : (uint64_t)j + 1;
            }
            struct totals a = { 0 };
            do {
                run_script(&a, &sc, layouts[l], bug, prune, deadline, 1);
                if (a.scripts % 250 == 0) {
                    printf("%-11s ... %d scripts, %.4g complete paths, %.0fs\n",
                           layout_name(layouts[l]), a.scripts, a.paths, a.seconds);
                }
            } while (mc_next_script(&sc, all, kinds, npages) && (expect_violation || !a.failed));
            printf("%-11s all %d-operation scripts of %s on %d page(s): %d scripts, %d failed, "
                   "states %llu, transitions %llu, complete paths %.4g, %.1fs\n",
                   layout_name(layouts[l]), all, kinds, npages, a.scripts, a.failed,
                   (unsigned long long)a.states,
                   (unsigned long long)a.transitions, a.paths, a.seconds);
            t.scripts += a.scripts;
            t.failed += a.failed;
            t.states += a.states;
            t.transitions += a.transitions;
            t.replays += a.replays;
            t.paths += a.paths;
            t.seconds += a.seconds;
        }
    }
    printf("dsm-mc: %d script runs, %d with violations; states %llu, transitions %llu, "
           "complete paths %.4g, replays %llu, %.1fs%s\n", t.scripts, t.failed,
           (unsigned long long)t.states, (unsigned long long)t.transitions, t.paths,
           (unsigned long long)t.replays, t.seconds,
           bug != MC_BUG_NONE ? " (bug injected)" : "");
    if (expect_violation) {
        return t.failed == t.scripts ? 0 : 1;
    }
    return t.failed ? 1 : 0;
}
