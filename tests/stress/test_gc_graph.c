/* test_gc_graph.c - the collector under stress: goroutines and plain
 * attached threads mutate random object graphs only through gcrt_store and
 * gcrt_copy_ptrs while collections run back to back (a goroutine calling
 * gcrt_gc in a loop, plus heap-triggered cycles), with GODEBUG=gccheckmark=1
 * (props.cmake) re-marking every cycle stop-the-world.
 *
 * Each worker owns a region: root slots half in a malloc'd array registered
 * with gcrt_add_roots, half in a global (bss) array; the nodes reachable
 * from them belong to that worker alone (so the mutations are race-free C),
 * except for subgraphs handed to another worker through a channel (then
 * the pointer lives only in the channel's buffer for a while). Every node
 * carries a checksum of its id and payload, and every edge remembers the
 * id of its target: a node freed while reachable and reused reads back
 * with the wrong id, a node freed and not reused is no longer an allocated
 * object (gcrt_find_object).
 *
 * Checks: each worker verifies its own region now and then while the GC
 * and the others run; a checker stops every worker (a write lock) and
 * verifies all regions; at the end everything is dropped and two gcrt_gc
 * calls must bring HeapObjects and HeapAlloc back near the start.
 *
 * Scale: GCRT_STRESS_OPS (operations per worker, default 60000),
 * GCRT_GCG_GOROUTINES / GCRT_GCG_THREADS (workers of each kind).
 * Narrowing a failure down: GCRT_GCG_LARGE=0 (no objects over 32 KiB),
 * GCRT_GCG_HANDOFF=0 (no channel hand-over), GCRT_GCG_GCLOOP=0 (no
 * gcrt_gc loop), GCRT_GCG_CHECKER=0 (no stop-and-check passes); and
 * GODEBUG=gcstoptheworld=1 in the environment. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* test_gc_graph_offer.c builds this file with the gcrt_gc loop off. */
#ifndef GCG_DEFAULT_GCLOOP
#define GCG_DEFAULT_GCLOOP 1
#endif

#include "common/memstats_check.h"
#include "gcrt.h"
#include "gcrt_chan.h"
#include "gcrt_sched.h"
#include "gcrt_sync.h"
#include "harness.h"

#define NF    4 /* pointer fields per node */
#define MAXW  32
#define ROOTS 16 /* root slots per worker: 8 registered + 8 global */

struct node {
    struct node *f[NF];
    uint64_t fid[NF]; /* id of f[i]'s target (0 for NULL) */
    uint64_t id;
    uint64_t epoch; /* traversal mark, owner only */
    uint32_t plen;  /* payload words */
    uint32_t pad;
    uint64_t sum;
    uint64_t payload[];
};

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t node_sum(const struct node *n) {
    uint64_t s = mix(n->id) ^ n->plen;
    for (uint32_t i = 0; i < n->plen; i++) s = mix(s + n->payload[i]);
    return s;
}

struct worker {
    int idx;
    uint64_t rng;
    uint64_t next_id;
    struct node **reg; /* ROOTS/2 registered (malloc'd) slots */
    uint64_t epoch;
    int64_t ops, allocs, verified, handed, received;
    int64_t max_nodes;
    int failed;
};

static struct node *global_roots[MAXW][ROOTS / 2]; /* bss roots */
static struct worker W[MAXW];
static int nworkers;
static long ops_per_worker;
static int use_handoff, use_large;
static gcrt_rwmutex_t world; /* workers hold it for reading per batch */
static gcrt_chan_t *handoff; /* struct node * in flight between workers */
static atomic_int stop_gc, workers_left, gc_loops, checks_done;
static atomic_int failures;
static gcrt_wg_t wg;

static uint64_t rnd(struct worker *w) {
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static struct node **slot(struct worker *w, int r) {
    return r < ROOTS / 2 ? &w->reg[r] : &global_roots[w->idx][r - ROOTS / 2];
}

static struct node *new_node(struct worker *w) {
    uint64_t k = rnd(w) % 100;
    /* Mostly small, some medium, a few large (> 32 KiB). */
    uint32_t plen = k < 80                 ? (uint32_t)(rnd(w) % 12)
                    : k < 98 || !use_large ? 100 + (uint32_t)(rnd(w) % 400)
                                           : 4200 + (uint32_t)(rnd(w) % 2000);
    struct node *n = gcrt_alloc(sizeof *n + plen * sizeof(uint64_t));
    n->id = ((uint64_t)(w->idx + 1) << 48) | ++w->next_id;
    n->plen = plen;
    for (uint32_t i = 0; i < plen; i++) n->payload[i] = mix(n->id + i);
    n->sum = node_sum(n);
    w->allocs++;
    return n;
}

static void set_edge(struct node *a, int i, struct node *b) {
    gcrt_store(&a->f[i], b);
    a->fid[i] = b ? b->id : 0;
}

/* A random node of the region: a short random walk from a random root. */
static struct node *walk(struct worker *w) {
    struct node *n = *slot(w, (int)(rnd(w) % ROOTS));
    if (!n) return NULL;
    int steps = (int)(rnd(w) % 6);
    for (int s = 0; s < steps; s++) {
        struct node *m = n->f[rnd(w) % NF];
        if (!m) break;
        n = m;
    }
    return n;
}

static void report_bad(struct worker *w, const struct node *n, const char *what, uint64_t want) {
    void *base = NULL;
    size_t size = 0;
    bool obj = gcrt_find_object(n, &base, &size);
    fprintf(stderr,
            "worker %d: node %p %s (expected id %#llx, id %#llx, object %d base %p size %zu)\n",
            w ? w->idx : -1, (const void *)n, what, (unsigned long long)want,
            (unsigned long long)n->id, obj, base, size);
    atomic_fetch_add(&failures, 1);
    if (w) w->failed = 1;
}

/* Visits every node reachable from worker w's roots, checking each; returns
 * the number of nodes. Owner (or the checker, with every worker stopped). */
static int64_t verify_region(struct worker *w) {
    uint64_t ep = ++w->epoch;
    size_t cap = 1024, sp = 0;
    const struct node **stack = malloc(cap * sizeof *stack);
    int64_t count = 0;
    for (int r = 0; r < ROOTS; r++) {
        struct node *root = *slot(w, r);
        if (root) stack[sp++] = root;
        while (sp > 0) {
            struct node *n = (struct node *)stack[--sp];
            void *base;
            if (!gcrt_find_object(n, &base, NULL) || base != n) {
                report_bad(w, n, "is not an allocated object", 0);
                continue;
            }
            if (n->epoch == ep) continue;
            n->epoch = ep;
            count++;
            if (n->sum != node_sum(n)) report_bad(w, n, "has a bad checksum", 0);
            for (int i = 0; i < NF; i++) {
                struct node *m = n->f[i];
                if (!m) {
                    if (n->fid[i]) report_bad(w, n, "lost an edge", n->fid[i]);
                    continue;
                }
                if (m->id != n->fid[i]) {
                    report_bad(w, m, "has the wrong id (freed and reused?)", n->fid[i]);
                    continue;
                }
                if (sp + 1 >= cap) stack = realloc(stack, (cap *= 2) * sizeof *stack);
                stack[sp++] = m;
            }
        }
    }
    free(stack);
    return count;
}

/* Cuts every edge of the region, then its roots: a stale word the
 * conservative scan still finds then keeps one node, not a whole graph. */
static void drop_region(struct worker *w) {
    uint64_t ep = ++w->epoch;
    size_t cap = 1024, sp = 0, nall = 0, capall = 1024;
    struct node **stack = malloc(cap * sizeof *stack), **all = malloc(capall * sizeof *all);
    for (int r = 0; r < ROOTS; r++) {
        if (*slot(w, r)) stack[sp++] = *slot(w, r);
        while (sp > 0) {
            struct node *n = stack[--sp];
            if (n->epoch == ep) continue;
            n->epoch = ep;
            if (nall == capall) all = realloc(all, (capall *= 2) * sizeof *all);
            all[nall++] = n;
            for (int i = 0; i < NF; i++) {
                if (!n->f[i]) continue;
                if (sp + 1 >= cap) stack = realloc(stack, (cap *= 2) * sizeof *stack);
                stack[sp++] = n->f[i];
            }
        }
    }
    for (size_t k = 0; k < nall; k++)
        for (int i = 0; i < NF; i++) set_edge(all[k], i, NULL);
    memset(all, 0, nall * sizeof *all);
    free(all);
    free(stack);
    for (int r = 0; r < ROOTS; r++) *slot(w, r) = NULL;
}

/* One random mutation. */
static void step(struct worker *w) {
    uint64_t op = rnd(w) % 100;
    struct node *a = walk(w), *b = walk(w);
    int i = (int)(rnd(w) % NF), j = (int)(rnd(w) % NF);
    if (op < 25) {
        /* A new node linked to existing ones, hung off a node or a root. */
        struct node *n = new_node(w);
        set_edge(n, 0, a);
        set_edge(n, 1 + (int)(rnd(w) % (NF - 1)), b);
        struct node *c = walk(w);
        if (c && rnd(w) % 4)
            set_edge(c, i, n);
        else
            *slot(w, (int)(rnd(w) % ROOTS)) = n; /* roots: plain stores */
    } else if (op < 45) {
        if (a) set_edge(a, i, b);
    } else if (op < 55) {
        if (a) set_edge(a, i, NULL); /* drops a subgraph, maybe */
    } else if (op < 65) {
        /* Move an edge: the classic pattern a barrier must see. */
        if (a && b && b->f[j]) {
            struct node *m = b->f[j];
            set_edge(a, i, m);
            set_edge(b, j, NULL);
        }
    } else if (op < 72) {
        if (a && b && a != b) {
            gcrt_copy_ptrs(a->f, b->f, NF);
            memcpy(a->fid, b->fid, sizeof a->fid);
        }
    } else if (op < 77) {
        if (a) { /* overlapping copies, both directions */
            if (rnd(w) & 1) {
                gcrt_copy_ptrs(a->f + 1, a->f, NF - 1);
                memmove(a->fid + 1, a->fid, (NF - 1) * sizeof a->fid[0]);
            } else {
                gcrt_copy_ptrs(a->f, a->f + 1, NF - 1);
                memmove(a->fid, a->fid + 1, (NF - 1) * sizeof a->fid[0]);
            }
        }
    } else if (op < 80) {
        *slot(w, (int)(rnd(w) % ROOTS)) = NULL;
    } else if (op < 83) {
        /* Root to root, and a root into the heap. */
        int r = (int)(rnd(w) % ROOTS), s = (int)(rnd(w) % ROOTS);
        struct node *x = *slot(w, r);
        *slot(w, s) = x;
        if (a && x) set_edge(a, i, x);
    } else if (op < 85) {
        if (!use_handoff) return;
        /* Hand a fresh subgraph to whoever receives next. */
        struct node *n = new_node(w);
        set_edge(n, 0, new_node(w));
        set_edge(n->f[0], 1, new_node(w));
        bool sent = gcrt_chan_try_send(handoff, &n);
        if (sent) w->handed++;
    } else if (op < 87) {
        struct node *n = NULL;
        bool ok;
        if (gcrt_chan_try_recv(handoff, &n, &ok) && n) {
            w->received++;
            *slot(w, (int)(rnd(w) % ROOTS)) = n;
        }
    } else {
        /* Garbage: drives heap-triggered cycles. The sink is the
         * worker's own (a shared one would be a data race). */
        void *volatile sink;
        for (int k = 0; k < 8; k++) sink = gcrt_alloc(16 + rnd(w) % 600);
        if (use_large && rnd(w) % 50 == 0) sink = gcrt_alloc(40000 + rnd(w) % 100000);
        sink = NULL;
        (void)sink;
    }
}

static void worker_loop(struct worker *w) {
    int64_t done = 0;
    while (done < ops_per_worker) {
        gcrt_rwmutex_rlock(&world);
        for (int k = 0; k < 64 && done < ops_per_worker; k++, done++) step(w);
        gcrt_rwmutex_runlock(&world);
        if (done % 4096 == 0) {
            gcrt_rwmutex_rlock(&world);
            int64_t n = verify_region(w);
            gcrt_rwmutex_runlock(&world);
            w->verified++;
            if (n > w->max_nodes) w->max_nodes = n;
            /* Keep the region bounded: drop half of it. */
            if (n > 3000)
                for (int r = 0; r < ROOTS; r += 2) *slot(w, r) = NULL;
        }
        gcrt_checkpoint();
    }
    w->ops = done;
}

static void worker_go(void *arg) {
    worker_loop(arg);
    atomic_fetch_sub(&workers_left, 1);
    gcrt_wg_done(&wg);
}

static void *worker_thread(void *arg) {
    gcrt_thread_attach();
    worker_loop(arg);
    atomic_fetch_sub(&workers_left, 1);
    gcrt_wg_done(&wg);
    gcrt_thread_detach();
    return NULL;
}

/* Bursts of back-to-back collections with pauses in between, in which
 * the heap triggers cycles of its own (longer pauses until one did: on a
 * loaded machine the bursts can otherwise keep a cycle running all the
 * time, and a heap trigger never finds the collector idle). */
static void gc_loop(void *arg) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    uint32_t heap_cycles0 = ms.num_gc - ms.num_forced_gc;
    while (!atomic_load(&stop_gc) && th_env_long("GCRT_GCG_GCLOOP", GCG_DEFAULT_GCLOOP)) {
        for (int i = 0; i < 8 && !atomic_load(&stop_gc); i++) {
            gcrt_gc();
            atomic_fetch_add(&gc_loops, 1);
        }
        /* Pause; until the heap has triggered a cycle of its own, pause
         * until it does (at most a second a time). */
        for (int k = 0; k < 200 && !atomic_load(&stop_gc); k++) {
            gcrt_sleep(5 * 1000 * 1000);
            gcrt_read_memstats(&ms);
            if (ms.num_gc - ms.num_forced_gc != heap_cycles0) break;
        }
    }
    gcrt_wg_done(&wg);
}

/* Stops every worker between batches and verifies all regions. */
static void checker(void *arg) {
    while (atomic_load(&workers_left) > 0 && th_env_long("GCRT_GCG_CHECKER", 1)) {
        gcrt_sleep(30 * 1000 * 1000);
        gcrt_rwmutex_lock(&world);
        for (int i = 0; i < nworkers; i++) verify_region(&W[i]);
        gcrt_rwmutex_unlock(&world);
        atomic_fetch_add(&checks_done, 1);
    }
    gcrt_wg_done(&wg);
}

static __attribute__((noinline)) void wipe_stack(void) {
    volatile char buf[32768];
    memset((char *)buf, 0, sizeof buf);
    /* Without a use the compiler drops the memset (and the call). */
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void test_graph(void) {
    int ngo = (int)th_env_long("GCRT_GCG_GOROUTINES", 4);
    int nth = (int)th_env_long("GCRT_GCG_THREADS", 2);
    if (ngo + nth > MAXW) ngo = MAXW - nth;
    if (ngo + nth < 1) ngo = 1;
    ops_per_worker = th_env_long("GCRT_STRESS_OPS", 60000);
    use_handoff = (int)th_env_long("GCRT_GCG_HANDOFF", 1);
    use_large = (int)th_env_long("GCRT_GCG_LARGE", 1);
    nworkers = ngo + nth;
    handoff = gcrt_chan_make(sizeof(struct node *), 4);
    REQUIRE_TRUE(handoff != NULL);

    struct gcrt_memstats m0, m1, m2;
    wipe_stack();
    gcrt_gc();
    gcrt_read_memstats(&m0);

    for (int i = 0; i < nworkers; i++) {
        W[i].idx = i;
        W[i].rng = mix((uint64_t)i + 12345) | 1;
        W[i].reg = calloc(ROOTS / 2, sizeof(struct node *));
        REQUIRE_EQ(gcrt_add_roots(W[i].reg, W[i].reg + ROOTS / 2), 0);
    }
    int64_t t0 = gcrt_nanotime();
    atomic_store(&workers_left, nworkers);
    gcrt_wg_add(&wg, nworkers + 2);
    REQUIRE_TRUE(gcrt_go(gc_loop, NULL) > 0);
    REQUIRE_TRUE(gcrt_go(checker, NULL) > 0);
    pthread_t th[MAXW];
    for (int i = 0; i < ngo; i++) REQUIRE_TRUE(gcrt_go(worker_go, &W[i]) > 0);
    for (int i = ngo; i < nworkers; i++)
        REQUIRE_EQ(pthread_create(&th[i], NULL, worker_thread, &W[i]), 0);
    while (atomic_load(&workers_left) > 0) gcrt_sleep(5 * 1000 * 1000);
    atomic_store(&stop_gc, 1);
    gcrt_wg_wait(&wg);
    for (int i = ngo; i < nworkers; i++) pthread_join(th[i], NULL);
    int64_t t1 = gcrt_nanotime();

    /* Whatever is still in the channel becomes someone's root. */
    struct node *n;
    bool ok;
    while (gcrt_chan_try_recv(handoff, &n, &ok)) *slot(&W[0], 0) = n;
    gcrt_gc();
    int64_t live = 0, allocs = 0, handed = 0, received = 0, maxn = 0;
    for (int i = 0; i < nworkers; i++) {
        live += verify_region(&W[i]);
        allocs += W[i].allocs;
        handed += W[i].handed;
        received += W[i].received;
        maxn += W[i].max_nodes;
        EXPECT_EQ(W[i].ops, ops_per_worker);
        EXPECT_GT(W[i].verified, 0);
    }
    gcrt_read_memstats(&m1);
    check_memstats_invariants(&m1);
    fprintf(stderr,
            "graph: %d workers (%d goroutines, %d threads) x %ld ops in %lld ms: %lld nodes "
            "allocated, %lld live at the end (peak sum %lld), %lld handed over (%lld "
            "received), %u GCs (%u forced, %d back to back), %d stop-and-check passes\n",
            nworkers, ngo, nth, ops_per_worker, (long long)(t1 - t0) / 1000000, (long long)allocs,
            (long long)live, (long long)maxn, (long long)handed, (long long)received,
            m1.num_gc - m0.num_gc, m1.num_forced_gc - m0.num_forced_gc, atomic_load(&gc_loops),
            atomic_load(&checks_done));
    EXPECT_EQ(atomic_load(&failures), 0);
    EXPECT_GT(live, 0);
    if (th_env_long("GCRT_GCG_GCLOOP", GCG_DEFAULT_GCLOOP)) EXPECT_GE(atomic_load(&gc_loops), 3);
#ifdef GCG_AFTER_GRAPH
    GCG_AFTER_GRAPH();
#endif
    EXPECT_GT(m1.num_gc - m0.num_gc, m1.num_forced_gc - m0.num_forced_gc); /* heap cycles too */
    /* Dropped subgraphs were freed along the way. */
    EXPECT_UGE(m1.frees - m0.frees, (uint64_t)allocs / 2);

    /* Drop everything: the heap comes back down. */
    for (int i = 0; i < nworkers; i++) drop_region(&W[i]);
    n = NULL;
    wipe_stack();
    gcrt_gc();
    wipe_stack();
    gcrt_gc();
    gcrt_read_memstats(&m2);
    check_memstats_invariants(&m2);
    fprintf(stderr,
            "after dropping everything: HeapObjects %llu (start %llu, before drop %llu), "
            "HeapAlloc %llu KiB (start %llu KiB, before drop %llu KiB)\n",
            (unsigned long long)m2.heap_objects, (unsigned long long)m0.heap_objects,
            (unsigned long long)m1.heap_objects, (unsigned long long)m2.heap_alloc >> 10,
            (unsigned long long)m0.heap_alloc >> 10, (unsigned long long)m1.heap_alloc >> 10);
    /* Conservative scanning may keep a stale node and what hangs off it:
     * allow a few hundred objects and a few MiB, never the graph. */
    EXPECT_ULE(m2.heap_objects, m0.heap_objects + 300 + (uint64_t)live / 20);
    EXPECT_ULE(m2.heap_alloc, m0.heap_alloc + (4u << 20));
    for (int i = 0; i < nworkers; i++) {
        EXPECT_EQ(gcrt_remove_roots(W[i].reg), 0);
        free(W[i].reg);
    }
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_graph);
    return th_summary();
}
