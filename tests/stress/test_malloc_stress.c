/* test_malloc_stress.c - millions of mixed-size allocations across threads.
 *
 * Each thread keeps a table of live objects, each filled with a pattern
 * derived from (owner, serial, size). Every replacement checks the old
 * object's pattern and its lookup (base and size) before freeing it; one
 * object in 8 is handed to another thread and freed there. After every
 * phase the threads stop and the main thread checks: no two live objects
 * overlap, HeapObjects and HeapAlloc equal what the threads hold, and Go's
 * MemStats identities. At the end everything is freed and returned to the
 * OS: the RSS must fall.
 *
 * Scale: GCRT_STRESS_OPS (default 1000000 per thread per phase... see main),
 * GCRT_STRESS_THREADS (4), GCRT_STRESS_PHASES (4). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/memstats_check.h"
#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "os.h"
#include "sizeclasses.h"

#define SLOTS 4096
#define MAXT  16
#define XCHG  256

struct obj {
    unsigned char *p;
    size_t size;
    uint64_t tag;
};

struct thread_state {
    int id;
    struct obj live[SLOTS];
    uint64_t serial;
    uint64_t rng;
    long errors;
};

static struct thread_state ts[MAXT];
static int nthreads;
static long ops_per_phase;
static pthread_barrier_t phase_start, phase_end;

/* A wait between phases, bracketed as a blocking call: the main thread
 * reads MemStats, which stops the world, while the workers wait here.
 * Unbracketed, they are stopped by the signal, which TSan delivers only
 * when the thread leaves pthread_barrier_wait: the stop waited for ever. */
static void phase_wait(pthread_barrier_t *b) {
    gcrt_enter_blocking();
    pthread_barrier_wait(b);
    gcrt_exit_blocking();
}
static int stop;

/* Cross-thread hand-off: a small locked ring of objects to free elsewhere. */
static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;
static struct obj xring[XCHG];
static int xcount;

static uint64_t rnd(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static size_t pick_size(uint64_t *r) {
    uint64_t v = rnd(r) % 1000;
    if (v < 700) return 16 + rnd(r) % 241;
    if (v < 900) return 257 + rnd(r) % 3840;
    if (v < 990) return 4097 + rnd(r) % 28672;
    return 32769 + rnd(r) % 229376;
}

static inline unsigned char pat(uint64_t tag, size_t i) {
    return (unsigned char)((tag * 0x9E3779B97F4A7C15ull + i * 131) >> 56);
}

/* Offsets that get the pattern: the first and last 64 bytes and one byte
 * per 1 KiB in between (large objects would be too slow to fill). */
static void fill(struct obj *o) {
    size_t n = o->size;
    for (size_t i = 0; i < n; i += (i < 64 || i + 64 >= n) ? 1 : 1024) o->p[i] = pat(o->tag, i);
}

static int verify(const struct obj *o) {
    size_t n = o->size;
    for (size_t i = 0; i < n; i += (i < 64 || i + 64 >= n) ? 1 : 1024)
        if (o->p[i] != pat(o->tag, i)) return 0;
    void *base;
    size_t got;
    if (!gcrt_find_object(o->p + n / 2, &base, &got)) return 0;
    if (base != o->p || got < n) return 0;
    return 1;
}

static void release(struct thread_state *t, struct obj *o) {
    if (!verify(o)) {
        t->errors++;
        if (t->errors < 5)
            fprintf(stderr, "thread %d: object %p (size %zu) corrupted or lost\n", t->id,
                    (void *)o->p, o->size);
    }
    gcrt_free(o->p);
    o->p = NULL;
}

static void *worker(void *arg) {
    struct thread_state *t = arg;
    gcrt_thread_attach();
    for (;;) {
        phase_wait(&phase_start);
        if (stop) break;
        for (long k = 0; k < ops_per_phase; k++) {
            struct obj *o = &t->live[rnd(&t->rng) % SLOTS];
            if (o->p) {
                if (rnd(&t->rng) % 8 == 0) { /* hand it to whoever frees next */
                    pthread_mutex_lock(&xlock);
                    if (xcount < XCHG) {
                        xring[xcount++] = *o;
                        o->p = NULL;
                    }
                    pthread_mutex_unlock(&xlock);
                }
                if (o->p) release(t, o);
            }
            if (rnd(&t->rng) % 16 == 0) { /* free one that another thread made */
                struct obj x = {0};
                pthread_mutex_lock(&xlock);
                if (xcount > 0) x = xring[--xcount];
                pthread_mutex_unlock(&xlock);
                if (x.p) release(t, &x);
            }
            o->size = pick_size(&t->rng);
            o->tag = ((uint64_t)t->id << 48) | ++t->serial;
            o->p = (rnd(&t->rng) & 1) ? gcrt_alloc(o->size) : gcrt_alloc_noscan(o->size);
            fill(o);
        }
        gcrt_thread_detach(); /* flush the cache: exact MemStats between phases */
        gcrt_thread_attach();
        phase_wait(&phase_end);
    }
    gcrt_thread_detach();
    return NULL;
}

static int cmp_obj(const void *a, const void *b) {
    const struct obj *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static size_t accounted(size_t n) {
    if (n > 32768) return (n + 8191) / 8192 * 8192;
    return gcrt__class_to_size[gcrt__size_class(n)];
}

static void check_phase(int phase) {
    static struct obj all[MAXT * SLOTS + XCHG];
    size_t n = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < nthreads; i++)
        for (int s = 0; s < SLOTS; s++)
            if (ts[i].live[s].p) all[n++] = ts[i].live[s];
    for (int i = 0; i < xcount; i++) all[n++] = xring[i];
    for (size_t i = 0; i < n; i++) bytes += accounted(all[i].size);
    qsort(all, n, sizeof all[0], cmp_obj);
    long overlaps = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t usable = gcrt_usable_size(all[i].p);
        if (i + 1 < n && all[i].p + usable > all[i + 1].p) overlaps++;
        bad += !verify(&all[i]);
    }
    EXPECT_EQ(overlaps, 0);
    EXPECT_EQ(bad, 0);
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    check_memstats_invariants(&ms);
    EXPECT_UEQ(ms.heap_objects, n);
    EXPECT_UEQ(ms.heap_alloc, bytes);
    fprintf(stderr,
            "phase %d: %zu live objects, %llu bytes, HeapInuse %llu, HeapSys %llu, RSS %zu\n",
            phase, n, (unsigned long long)bytes, (unsigned long long)ms.heap_inuse,
            (unsigned long long)ms.heap_sys, gcrt__os_rss());
}

static void test_stress(void) {
    nthreads = (int)th_env_long("GCRT_STRESS_THREADS", 4);
    if (nthreads > MAXT) nthreads = MAXT;
    ops_per_phase = th_env_long("GCRT_STRESS_OPS", 400000);
    int phases = (int)th_env_long("GCRT_STRESS_PHASES", 4);
    pthread_barrier_init(&phase_start, NULL, (unsigned)nthreads + 1);
    pthread_barrier_init(&phase_end, NULL, (unsigned)nthreads + 1);
    pthread_t th[MAXT];
    for (int i = 0; i < nthreads; i++) {
        ts[i].id = i;
        ts[i].rng = 0x1234567ull * (uint64_t)(i + 1);
        pthread_create(&th[i], NULL, worker, &ts[i]);
    }
    for (int p = 0; p < phases; p++) {
        pthread_barrier_wait(&phase_start);
        pthread_barrier_wait(&phase_end);
        check_phase(p);
    }
    stop = 1;
    pthread_barrier_wait(&phase_start);
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    long errors = 0;
    for (int i = 0; i < nthreads; i++) errors += ts[i].errors;
    EXPECT_EQ(errors, 0);

    /* Free everything, give it back to the OS: RSS must fall. */
    size_t rss_before = gcrt__os_rss();
    struct gcrt_memstats a, b;
    gcrt_read_memstats(&a);
    for (int i = 0; i < nthreads; i++)
        for (int s = 0; s < SLOTS; s++)
            if (ts[i].live[s].p) release(&ts[i], &ts[i].live[s]);
    for (int i = 0; i < xcount; i++) release(&ts[0], &xring[i]);
    xcount = 0;
    gcrt_thread_detach();
    gcrt_thread_attach();
    gcrt_free_os_memory();
    gcrt_read_memstats(&b);
    check_memstats_invariants(&b);
    size_t rss_after = gcrt__os_rss();
    fprintf(stderr, "free all: HeapInuse %llu -> %llu, HeapReleased %llu -> %llu, RSS %zu -> %zu\n",
            (unsigned long long)a.heap_inuse, (unsigned long long)b.heap_inuse,
            (unsigned long long)a.heap_released, (unsigned long long)b.heap_released, rss_before,
            rss_after);
    EXPECT_UEQ(b.heap_objects, 0);
    EXPECT_UEQ(b.heap_alloc, 0);
    EXPECT_ULE(b.heap_inuse, 8192); /* at most the main thread's cached span */
    EXPECT_UEQ(b.heap_released, b.heap_idle);
    /* The heap held hundreds of MiB; at least 3/4 of what was in use leaves. */
    EXPECT_ULT(rss_after + (a.heap_inuse - b.heap_inuse) * 3 / 4, rss_before);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_stress);
    return th_summary();
}
