/* bench_barrier.c - the cost of one pointer store through gcrt_store, with
 * marking off and with marking on (issue 4: "measure the cost per store in
 * both states"). Not a test: nothing is asserted. Run
 * tests/bench/run-barrier.sh; results in tests/bench/RESULTS.md.
 *
 * A heap object of SLOTS pointer slots is written round and round with
 * values from a pool of heap objects:
 *   plain        *slot = v (no barrier at all), for reference
 *   off          gcrt_store with the collector idle (a load, a store and
 *                a flag test)
 *   on, marked   gcrt_store while a concurrent mark runs, old and new
 *                values already marked (the barrier looks both up and
 *                finds their mark bits set: the common case once a cycle
 *                is under way)
 *   on, fresh    gcrt_store while marking, each new value a distinct
 *                object the mark has not reached yet (it gets marked and
 *                queued: the barrier's most expensive path)
 * To keep marking on long enough, the program holds LIVE_MIB of linked
 * 64-byte nodes; a second thread runs gcrt_gc() over and over, and the
 * main thread times batches of stores and keeps only the batches that
 * began and ended with the barrier on. Times are ns per store, the median
 * and the best of the batches (per-thread CPU clock, so time the OS gives
 * to the collector's threads is not counted).
 *
 * Usage: bench_barrier [LIVE_MIB]   (default 256) */
#define _GNU_SOURCE 1
#include <gcrt.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SLOTS = 1024, BATCH = 4096, MAX_BATCHES = 4000 };

typedef struct node {
    struct node *next;
    uint64_t pad[7];
} node_t;

static void **live_heads; /* the live lists (registered as a root range) */
static size_t nlists;
static void **slots; /* heap object: the stores' target */
static void **pool;  /* heap object: values to store */
static size_t npool;
static volatile int stop_gc;

static uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *ns, int n, int per) {
    if (n == 0) {
        printf("%-12s  no batch completed\n", name);
        return;
    }
    qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
    printf("%-12s  median %6.2f ns/store  best %6.2f  (%d batches of %d)\n", name,
           (double)ns[n / 2] / per, (double)ns[0] / per, n, per);
}

/* BATCH stores cycling over the slots; values from pool[*next...]. */
static __attribute__((noinline)) void batch_store(size_t *next, int fresh) {
    size_t k = *next;
    for (int i = 0; i < BATCH; i++) {
        gcrt_store(&slots[i % SLOTS], pool[k]);
        if (++k == (fresh ? npool : SLOTS)) k = 0;
    }
    *next = k;
}

static __attribute__((noinline)) void batch_plain(size_t *next) {
    size_t k = *next;
    for (int i = 0; i < BATCH; i++) {
        *(void *volatile *)&slots[i % SLOTS] = pool[k];
        if (++k == SLOTS) k = 0;
    }
    *next = k;
}

static void *gc_loop(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    while (!stop_gc) gcrt_gc();
    gcrt_thread_detach();
    return NULL;
}

static uint64_t times[MAX_BATCHES];

/* Batches while marking, until MAX_BATCHES or `cycles` more cycles ran. */
static int measure_marking(int fresh, uint32_t cycles) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    uint32_t end = ms.num_gc + cycles;
    int n = 0;
    size_t next = fresh ? SLOTS : 0;
    while (n < MAX_BATCHES) {
        if (!*(volatile uint32_t *)&gcrt_gc_barrier_on) {
            gcrt_read_memstats(&ms);
            if (ms.num_gc >= end) break;
            continue;
        }
        uint64_t t0 = cpu_ns();
        batch_store(&next, fresh);
        uint64_t t1 = cpu_ns();
        if (*(volatile uint32_t *)&gcrt_gc_barrier_on) times[n++] = t1 - t0;
        if (fresh && next < SLOTS) next = SLOTS; /* keep the first SLOTS for "marked" */
    }
    return n;
}

int main(int argc, char **argv) {
    gcrt_init();
    size_t live_mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    if (live_mib < 16) live_mib = 16;

    /* The live heap that keeps the mark busy. */
    nlists = 4096;
    live_heads = calloc(nlists, sizeof *live_heads);
    gcrt_add_roots(live_heads, live_heads + nlists);
    size_t nodes = live_mib * (1u << 20) / sizeof(node_t);
    for (size_t i = 0; i < nodes; i++) {
        node_t *n = gcrt_alloc(sizeof *n);
        size_t l = i % nlists;
        gcrt_store(&n->next, live_heads[l]);
        live_heads[l] = n;
    }
    /* The target and the values: npool distinct small objects. */
    slots = gcrt_alloc(SLOTS * sizeof *slots);
    npool = 1u << 20;
    pool = gcrt_alloc(npool * sizeof *pool);
    for (size_t i = 0; i < npool; i++) gcrt_store(&pool[i], gcrt_alloc(16));
    gcrt_gc(); /* slots and pool are globals: roots */

    printf("# bench_barrier: live %zu MiB, %d slots, batches of %d stores\n", live_mib, SLOTS,
           BATCH);
    size_t next = 0;
    int n;
    for (n = 0; n < 2000; n++) {
        uint64_t t0 = cpu_ns();
        batch_plain(&next);
        times[n] = cpu_ns() - t0;
    }
    report("plain", times, n, BATCH);
    next = 0;
    for (n = 0; n < 2000; n++) {
        uint64_t t0 = cpu_ns();
        batch_store(&next, 0);
        times[n] = cpu_ns() - t0;
    }
    report("off", times, n, BATCH);

    pthread_t th;
    pthread_create(&th, NULL, gc_loop, NULL);
    n = measure_marking(0, 3);
    report("on, marked", times, n, BATCH);
    n = measure_marking(1, 3);
    report("on, fresh", times, n, BATCH);
    stop_gc = 1;
    pthread_join(th, NULL);
    return 0;
}
