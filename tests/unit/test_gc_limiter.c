/* test_gc_limiter.c - the GC CPU limiter in a real program (Go's "death
 * spiral" protection, mgclimit.go; issue 4), and gcrt_set_memory_limit's
 * inputs.
 *
 * Each limiter case is a child run of this program (the limiter's bucket
 * and the pacer are per process) with GOMAXPROCS=2 and two mutator threads
 * (the main thread and one attached thread). The child turns GOGC off,
 * sets the memory limit with gcrt_set_memory_limit (debug.SetMemoryLimit),
 * keeps a live heap of LIVE_MB MiB of pointerful nodes (each with a
 * pointer-free leaf, every word a function of the node's id), replaces
 * nodes at random and allocates GARBAGE short-lived objects per node. It
 * collects once before it sets the limit: the pacer then knows the live
 * heap's scan work (a first cycle without it lets the heap run far past a
 * limit, and fragmentation keeps it there: back-to-back cycles).
 *
 *  - "spiral": limit LIVE_MB / 4. The goal is the live heap, the collector
 *    runs back to back and allocations assist all the time. Checks: the
 *    limiter turned on (gcrt_gc_limiter_last_enabled, Go's
 *    /gc/limiter/last-enabled:gc-cycle) and allocations then skipped their
 *    assists; the program went on for CYCLES_AFTER_ON more cycles with
 *    assists taking well under the mutators' whole time (wall time, as
 *    the limiter counts it); GCCPUFraction < 0.9 (generous: stops on a
 *    busy machine count x GOMAXPROCS); the heap exceeds the limit (Go
 *    allows it) without running away; every node dropped or left at the
 *    end is intact.
 *  - "converse": limit 8 x LIVE_MB. The limiter never turns on (no
 *    overflow, no assist skipped) and Sys - HeapReleased gets near the
 *    limit and stays there (median of the samples taken between rounds).
 *
 * The children stop on GC cycle counts, not on time (but a spiral child
 * gives up after GIVE_UP_S s); no timing checks. A run takes 3-5 s on a
 * loaded 2-CPU machine, ASan too; the bucket (1 s x GOMAXPROCS of GC time
 * beyond half the CPU, Go's capacity) takes most of it to fill.
 * GCRT_LIMITER_QUICK=1 (the TSan run, props.cmake): the spiral runs
 * QUICK_CYCLES cycles (the converse case half its own) and need not turn
 * the limiter on: with the allocator instrumented the spiral is milder and
 * takes 10-20 s to fill the bucket. The run still drives the limiter's
 * accounting (assist and idle pools, updates from assists, sysmon and the
 * scavenger, the transitions) for the races. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "common/run_self.h"
#include "harness.h"
#include "gc.h"
#include "mheap.h"
#include "pacer.h"

enum {
    NODE_WORDS = 30, /* 256-byte size class with the header below */
    LEAF_WORDS = 8,
    NTHREADS = 2,
    ROUND = 1024,        /* replacements between stop checks */
    GARBAGE = 4,         /* short-lived objects per replacement */
    GARBAGE_BYTES = 512, /* another size class than the nodes': spans of
                            garbage empty out, so an overshoot of the limit
                            does not stay pinned by fragmentation */
    MAX_CYCLES = 5000,   /* a child gives up after this many cycles */
    GIVE_UP_S = 30,
    QUICK_CYCLES = 20,
    /* GCRT_LIMITER_QUICK: spiral cycles, and converse / 2 */ /* or this many seconds (the limiter
                                                                 never turned on) */
    CYCLES_AFTER_ON = 10, /* spiral: cycles run after the limiter turned on */
    CYCLES_CONVERSE = 10, /* converse: cycles run in all */
};

struct node {
    uint64_t id;
    uint64_t *leaf;
    uint64_t w[NODE_WORDS];
};

/* The live heap, MiB: GCRT_LIMITER_MB (default 16); the limits follow. */
#define LIVE_MB           ((int64_t)th_env_long("GCRT_LIMITER_MB", 16))
#define SPIRAL_LIMIT_MB   (LIVE_MB / 4)
#define CONVERSE_LIMIT_MB (8 * LIVE_MB)

static struct node **ring;
static size_t nslots;
static uint32_t stop_flag;
static uint64_t bad;  /* corrupted nodes seen; atomic */
static uint64_t done; /* replacements; atomic */

static inline uint64_t mix(uint64_t id, uint64_t k) {
    uint64_t x = id * 0x9e3779b97f4a7c15ull + k * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    /* An odd low bit: never an aligned heap address, so the conservative
     * scan keeps nothing alive by accident. */
    return x | 1;
}

static struct node *new_node(uint64_t id) {
    struct node *n = gcrt_alloc(sizeof *n);
    uint64_t *leaf = gcrt_alloc_noscan(LEAF_WORDS * sizeof(uint64_t));
    for (int k = 0; k < LEAF_WORDS; k++) leaf[k] = mix(id, 100 + (uint64_t)k);
    n->id = id;
    for (int k = 0; k < NODE_WORDS; k++) n->w[k] = mix(id, (uint64_t)k);
    gcrt_store(&n->leaf, leaf);
    return n;
}

static int node_ok(const struct node *n, size_t slot) {
    if (!n || n->id % nslots != slot || !n->leaf) return 0;
    for (int k = 0; k < NODE_WORDS; k++)
        if (n->w[k] != mix(n->id, (uint64_t)k)) return 0;
    for (int k = 0; k < LEAF_WORDS; k++)
        if (n->leaf[k] != mix(n->id, 100 + (uint64_t)k)) return 0;
    return 1;
}

static int64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mutator_cpu[NTHREADS]; /* each thread's CPU time in churn */

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One round of thread t: ROUND nodes of its share of the ring replaced
 * at random (each dropped node checked), and GARBAGE short-lived objects
 * per node: the program allocates much more than it keeps. */
struct churner {
    size_t lo, hi;
    uint64_t r, gen;
};
static __thread void *volatile sink; /* per thread: no race */

static void churn_round(struct churner *c) {
    for (int i = 0; i < ROUND; i++) {
        c->r = c->r * 6364136223846793005ull + 1442695040888963407ull;
        size_t slot = c->lo + (size_t)(c->r >> 33) % (c->hi - c->lo);
        if (!node_ok(ring[slot], slot)) __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
        gcrt_store(&ring[slot], new_node(slot + nslots * c->gen++));
        for (int k = 0; k < GARBAGE; k++) sink = gcrt_alloc(GARBAGE_BYTES);
    }
    __atomic_fetch_add(&done, ROUND, __ATOMIC_RELAXED);
}

static void churner_init(struct churner *c, int t) {
    c->lo = nslots * (size_t)t / NTHREADS;
    c->hi = nslots * (size_t)(t + 1) / NTHREADS;
    c->r = 0x1234567u + (uint64_t)t;
    c->gen = 1;
}

/* Thread t churns until stop_flag. */
static void churn(int t) {
    struct churner c;
    churner_init(&c, t);
    int64_t cpu0 = thread_cpu_ns();
    while (!__atomic_load_n(&stop_flag, __ATOMIC_RELAXED)) churn_round(&c);
    mutator_cpu[t] = thread_cpu_ns() - cpu0;
}

static void *churn_thread(void *arg) {
    gcrt_thread_attach();
    churn((int)(intptr_t)arg);
    gcrt_thread_detach();
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sys - HeapReleased from the heap's own counters: gcrt_read_memstats
 * while another thread allocates is a known TSan report (it reads the
 * other P's cached spans under a seqlock). */
static uint64_t mapped_ready(void) {
    const gcrt_mheap_t *h = &gcrt__mheap;
    return gcrt_load_relaxed(&h->heap_inuse) + gcrt_load_relaxed(&h->heap_free) +
           gcrt_load_relaxed(&h->stack_inuse) + gcrt_load_relaxed(&gcrt__meta.mspan_sys) +
           gcrt_load_relaxed(&gcrt__meta.mcache_sys) + gcrt_load_relaxed(&gcrt__meta.gc_sys) +
           gcrt_load_relaxed(&gcrt__meta.other_sys) + gcrt_load_relaxed(&gcrt__meta.stack_sys);
}

/* The workload under limit; the main thread decides between its rounds
 * when to stop (spiral: CYCLES_AFTER_ON cycles after the limiter first
 * turned on; converse: after CYCLES_CONVERSE cycles; both at MAX_CYCLES). */
static int child(int64_t limit, int spiral) {
    gcrt_init();
    gcrt_set_gc_percent(-1);
    nslots = (size_t)LIVE_MB * (1 << 20) / (256 + 64);
    ring = gcrt_alloc(nslots * sizeof *ring);
    for (size_t i = 0; i < nslots; i++) gcrt_store(&ring[i], new_node(i));
    /* One collection of the live heap (so that the pacer knows its scan
     * work), then the limit (debug.SetMemoryLimit in a running program). */
    gcrt_gc();
    int64_t old = gcrt_set_memory_limit(limit);
    if (old != INT64_MAX) printf("unexpected old limit %lld\n", (long long)old);
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    uint32_t gc0 = ms.num_gc;

    pthread_t th[NTHREADS];
    for (int t = 1; t < NTHREADS; t++)
        pthread_create(&th[t], NULL, churn_thread, (void *)(intptr_t)t);
    /* The main thread churns too, and decides when to stop. */
    uint64_t peak = 0;
    static uint64_t samples[1 << 16]; /* Sys - HeapReleased after each round */
    size_t nsamples = 0;
    uint32_t on_cycle = 0;
    int quick = th_env_long("GCRT_LIMITER_QUICK", 0) != 0;
    int64_t on_ns = 0, on_assist_ns = 0; /* when the limiter first turned on */
    struct gcrt_cpu_limiter l;
    struct churner c;
    churner_init(&c, 0);
    int64_t cpu0 = thread_cpu_ns(), start_ns = mono_ns();
    for (;;) {
        churn_round(&c);
        uint64_t mr = mapped_ready();
        if (mr > peak) peak = mr;
        if (nsamples < sizeof samples / sizeof samples[0]) samples[nsamples++] = mr;
        gcrt__gc_limiter_state(&l); /* numgc: NumGC */
        uint32_t cycles = l.numgc - gc0;
        uint32_t last_on = gcrt_gc_limiter_last_enabled();
        if (spiral && last_on && !on_cycle) {
            /* Engaged: on, and acted on (an allocation skipped its assist). */
            if (l.assists_skipped > 0) {
                on_cycle = l.numgc;
                on_ns = mono_ns();
                on_assist_ns = l.assist_total_ns;
            }
        }
        if (cycles >= MAX_CYCLES || mono_ns() - start_ns > (int64_t)GIVE_UP_S * 1000000000) break;
        if (spiral && on_cycle && l.numgc >= on_cycle + CYCLES_AFTER_ON) break;
        if (spiral && quick && cycles >= QUICK_CYCLES) break;
        if (!spiral && cycles >= (quick ? CYCLES_CONVERSE / 2 : CYCLES_CONVERSE)) break;
    }
    mutator_cpu[0] = thread_cpu_ns() - cpu0;
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
    for (int t = 1; t < NTHREADS; t++) pthread_join(th[t], NULL);

    /* Every node left must be intact. */
    for (size_t i = 0; i < nslots; i++)
        if (!node_ok(ring[i], i)) bad++;
    int64_t end_ns = mono_ns();
    gcrt_read_memstats(&ms);
    gcrt__gc_limiter_state(&l);
    /* While limited: the share of the mutators' time (wall, like the
     * limiter's own accounting) that went to assists. */
    double on_share = on_ns && end_ns > on_ns ? (double)(l.assist_total_ns - on_assist_ns) /
                                                    ((double)(end_ns - on_ns) * NTHREADS)
                                              : 0;
    qsort(samples, nsamples, sizeof samples[0], cmp_u64);
    uint64_t median = nsamples ? samples[nsamples / 2] : 0;
    int64_t mut = 0;
    for (int t = 0; t < NTHREADS; t++) mut += mutator_cpu[t];
    printf("result cycles=%u last_on=%u on_cycle=%u overflow_ms=%llu assist_ms=%lld "
           "mutator_ms=%lld on_share=%.3f skipped=%llu fill_ms=%llu gccpu=%.3f peak=%llu "
           "median=%llu heapalloc=%llu bad=%llu done=%llu wall_ms=%lld\n",
           ms.num_gc - gc0, gcrt_gc_limiter_last_enabled(), on_cycle,
           (unsigned long long)(l.overflow / 1000000), (long long)(l.assist_total_ns / 1000000),
           (long long)(mut / 1000000), on_share, (unsigned long long)l.assists_skipped,
           (unsigned long long)(l.fill / 1000000), ms.gc_cpu_fraction, (unsigned long long)peak,
           (unsigned long long)median, (unsigned long long)ms.heap_alloc, (unsigned long long)bad,
           (unsigned long long)done, (long long)((end_ns - start_ns) / 1000000));
    fflush(stdout);
    return 0;
}

struct result {
    unsigned cycles, last_on, on_cycle;
    unsigned long long overflow_ms;
    long long assist_ms, mutator_ms;
    double on_share;
    unsigned long long skipped, fill_ms;
    double gccpu;
    unsigned long long peak, median, heapalloc, bad, done;
    long long wall_ms;
};

static int run_child(const char *mode, struct result *res) {
    const char *env[] = {"GOMAXPROCS=2", "GOGC=", "GOMEMLIMIT=", "GODEBUG=", NULL};
    struct run r;
    run_self(mode, env, &r);
    EXPECT_EQ(r.status, 0);
    const char *p = strstr(r.out, "result ");
    int ok =
        p && sscanf(p,
                    "result cycles=%u last_on=%u on_cycle=%u overflow_ms=%llu assist_ms=%lld "
                    "mutator_ms=%lld on_share=%lf skipped=%llu fill_ms=%llu gccpu=%lf peak=%llu "
                    "median=%llu heapalloc=%llu bad=%llu done=%llu wall_ms=%lld",
                    &res->cycles, &res->last_on, &res->on_cycle, &res->overflow_ms, &res->assist_ms,
                    &res->mutator_ms, &res->on_share, &res->skipped, &res->fill_ms, &res->gccpu,
                    &res->peak, &res->median, &res->heapalloc, &res->bad, &res->done,
                    &res->wall_ms) == 16;
    if (!ok)
        FAILF("no result line; stdout:\n%s\nstderr:\n%s", r.out, r.err);
    else
        fprintf(stderr, "%s: %s", mode, p);
    free_run(&r);
    return ok;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_limiter_stops_death_spiral(void) {
    struct result r;
    if (!run_child("spiral", &r)) return;
    if (th_env_long("GCRT_LIMITER_QUICK", 0)) {
        EXPECT_EQ(r.bad, 0);
        EXPECT_TRUE(r.gccpu < 0.9);
        return;
    }
    /* Whether this is a spiral at all depends on the machine: the limiter
     * counts wall time, and on a busy machine (other processes on both
     * CPUs) the assists' share of the mutators' wall time drops from
     * ~35% to ~25%, which with the background workers' 25% is the
     * limiter's threshold: the bucket then wanders around half full and
     * the child gives up after GIVE_UP_S (2 of 3 runs beside two busy
     * loops). The GC share the limiter must have seen, computed here
     * from the raw totals (the mark runs back to back: its 25% counts
     * all the time), decides: clearly over half, the limiter must be on. */
    double gc_share =
        r.wall_ms > 0 ? (double)r.assist_ms / ((double)r.wall_ms * NTHREADS) + 0.25 : 1;
    if (gc_share < 0.55 && r.last_on == 0) {
        fprintf(stderr,
                "GC share %.2f over %lld ms: no spiral on this machine now, limiter "
                "checks skipped\n",
                gc_share, r.wall_ms);
    } else {
        EXPECT_GT(r.last_on, 0);
        EXPECT_GT(r.skipped, 0); /* and while on, allocations skipped their assists */
    }
    EXPECT_EQ(r.bad, 0);
    EXPECT_GT(r.done, 0);
    /* While limited, assists take about a quarter of the mutators' time
     * (GC at most half of GOMAXPROCS x time, the background workers
     * counted at 25%); a spiral takes all of it. */
    EXPECT_TRUE(r.on_share < 0.6);
    EXPECT_TRUE(r.gccpu < 0.9);
    /* Over the limit (Go allows it: the live heap is 4x the limit), and
     * collected all the same: without a collection the children allocate
     * gigabytes. A mark starved of CPU (ctest -j on a busy machine) lets
     * the heap grow meanwhile, hence the wide bound. */
    EXPECT_UGE(r.peak, (unsigned long long)LIVE_MB << 20);
    EXPECT_ULE(r.peak, (unsigned long long)LIVE_MB * 32 << 20);
}

static void test_limit_above_live_heap(void) {
    struct result r;
    if (!run_child("converse", &r)) return;
    EXPECT_EQ(r.last_on, 0);
    EXPECT_EQ(r.overflow_ms, 0);
    EXPECT_EQ(r.skipped, 0);
    EXPECT_EQ(r.bad, 0);
    EXPECT_GE(r.cycles,
              th_env_long("GCRT_LIMITER_QUICK", 0) ? CYCLES_CONVERSE / 2 : CYCLES_CONVERSE);
    /* GOMEMLIMIT honoured: the heap grows to near the limit (no needless
     * collections) and stays there (median sample), not far above it.
     * The peak is looser: on a loaded machine a mark now and then takes
     * half a second (the workers get little CPU) while the mutators
     * allocate, up to 1.9x the limit seen under ASan. */
    EXPECT_UGE(r.peak, (unsigned long long)CONVERSE_LIMIT_MB << 19);
    EXPECT_ULE(r.median, (unsigned long long)(CONVERSE_LIMIT_MB * 1.25 * (1 << 20)));
    EXPECT_ULE(r.peak, (unsigned long long)CONVERSE_LIMIT_MB * 3 << 20);
}

/* debug.SetMemoryLimit's inputs: a negative limit only reads the current
 * one (whatever negative value); 0 and sizes that are no multiple of a
 * page are limits like any other; INT64_MAX means none. */
static void test_set_memory_limit_inputs(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    int64_t orig = gcrt_set_memory_limit(-1);
    EXPECT_EQ(orig, INT64_MAX); /* GOMEMLIMIT unset (props.cmake) */
    EXPECT_EQ(gcrt_set_memory_limit(-1), orig);
    EXPECT_EQ(gcrt_set_memory_limit(INT64_MIN), orig);
    EXPECT_EQ(gcrt_set_memory_limit(-12345), orig);
    EXPECT_UEQ(gcrt_load_relaxed(&gcrt__mheap.memory_limit), 0); /* none */

    EXPECT_EQ(gcrt_set_memory_limit(64 << 20), orig);
    EXPECT_EQ(gcrt_set_memory_limit(-2), 64 << 20);
    EXPECT_EQ(gcrt_set_memory_limit(INT64_MIN), 64 << 20);
    EXPECT_UEQ(gcrt_load_relaxed(&gcrt__mheap.memory_limit), 64 << 20);
    struct gcrt_pacer p;
    gcrt__gc_pacer_state(&p);
    EXPECT_EQ(p.memory_limit, 64 << 20);

    EXPECT_EQ(gcrt_set_memory_limit(4097), 64 << 20);
    EXPECT_EQ(gcrt_set_memory_limit(-1), 4097);
    /* 0: a limit, not "none" (Go: the collector then runs nearly all the
     * time); the heap gets it as its smallest limit. */
    EXPECT_EQ(gcrt_set_memory_limit(0), 4097);
    EXPECT_EQ(gcrt_set_memory_limit(-1), 0);
    EXPECT_UEQ(gcrt_load_relaxed(&gcrt__mheap.memory_limit), 1);
    gcrt__gc_pacer_state(&p);
    EXPECT_EQ(p.memory_limit, 0);
    /* An allocation under a limit of 0 works (the collector's problem is
     * time, not correctness). */
    uint64_t *x = gcrt_alloc_noscan(64);
    x[7] = 42;
    EXPECT_EQ(x[7], 42);

    EXPECT_EQ(gcrt_set_memory_limit(INT64_MAX), 0);
    EXPECT_UEQ(gcrt_load_relaxed(&gcrt__mheap.memory_limit), 0);
    EXPECT_EQ(gcrt_set_memory_limit(orig), INT64_MAX);
}

/* GOMAXPROCS changes the limiter's capacity (1 s per P) and window. */
static void test_limiter_follows_gomaxprocs(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    int old = gcrt_gomaxprocs(3);
    struct gcrt_cpu_limiter l;
    gcrt__gc_limiter_state(&l);
    EXPECT_EQ(l.nprocs, 3);
    EXPECT_UEQ(l.capacity, 3 * GCRT_CPU_LIMITER_CAPACITY_PER_P);
    gcrt_gomaxprocs(old);
    gcrt__gc_limiter_state(&l);
    EXPECT_EQ(l.nprocs, old);
    EXPECT_UEQ(l.capacity, (uint64_t)old * GCRT_CPU_LIMITER_CAPACITY_PER_P);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "spiral")) return child(SPIRAL_LIMIT_MB << 20, 1);
    if (argc > 1 && !strcmp(argv[1], "converse")) return child((int64_t)CONVERSE_LIMIT_MB << 20, 0);
    RUN(test_limiter_stops_death_spiral);
    RUN(test_limit_above_live_heap);
    /* Last: the children are forked before this process starts the runtime. */
    RUN(test_set_memory_limit_inputs);
    RUN(test_limiter_follows_gomaxprocs);
    return th_summary();
}
