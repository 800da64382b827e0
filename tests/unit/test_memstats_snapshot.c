/* test_memstats_snapshot.c - every MemStats read is one consistent
 * snapshot, as Go's ReadMemStats is (it stops the world: mstats.go
 * readmemstats_m), while threads allocate and drop garbage so that GC
 * cycles run back to back.
 *
 * Readers: an attached thread, a thread that never attached, and a
 * goroutine, each calling gcrt_read_memstats in a loop for a bounded time.
 * Every read is checked against the identities Go's MemStats keeps (Go's
 * malloc_test.go TestMemStats checks the same ones):
 *   HeapAlloc <= HeapInuse, HeapInuse + HeapIdle == HeapSys,
 *   HeapReleased <= HeapIdle, HeapObjects == Mallocs - Frees,
 *   Frees <= Mallocs, HeapAlloc <= TotalAlloc,
 *   Sys == HeapSys + StackSys + MSpanSys + MCacheSys + BuckHashSys + GCSys + OtherSys,
 * and the GC fields of one cycle: LastGC == PauseEnd[(NumGC+255)%256], the
 * ring slot after the latest still empty (NumGC < 256), PauseTotalNs ==
 * the sum of the ring (NumGC <= 256), NumForcedGC <= NumGC; and, from one
 * read to the next of the same reader, NumGC never goes down and NextGC
 * never falls while NumGC stays (Go's heap goal is fixed at a cycle's end,
 * and only raised at the next cycle's start, when it triggers close to it;
 * no memory limit here). Before reads stopped the world, NextGC could
 * already be the next cycle's goal while NumGC had not counted the cycle.
 *
 * test_read_is_not_a_gc_pause: the read's stop is not a GC pause (NumGC,
 * PauseNs, PauseTotalNs unchanged by reads with the collector off).
 *
 * The length of the run: MEMSTATS_SNAPSHOT_MS (default 1500 ms), longer
 * until MIN_CYCLES cycles have ended during it. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"

enum { NCHURN = 2, RING = 512, NREADERS = 3, MIN_CYCLES = 3 };

enum {
    V_ALLOC_INUSE,
    V_INUSE_IDLE_SYS,
    V_RELEASED_IDLE,
    V_OBJECTS,
    V_FREES_MALLOCS,
    V_ALLOC_TOTAL,
    V_SYS,
    V_LASTGC,
    V_RING_NEXT,
    V_PAUSE_TOTAL,
    V_FORCED,
    V_NUMGC_BACK,
    V_NEXTGC_FALL,
    V_COUNT
};
static const char *const v_names[V_COUNT] = {
    "HeapAlloc <= HeapInuse",
    "HeapInuse + HeapIdle == HeapSys",
    "HeapReleased <= HeapIdle",
    "HeapObjects == Mallocs - Frees",
    "Frees <= Mallocs",
    "HeapAlloc <= TotalAlloc",
    "Sys == sum of the *Sys fields",
    "LastGC == PauseEnd[(NumGC+255)%256]",
    "PauseEnd/PauseNs[NumGC%256] == 0 (NumGC < 256)",
    "PauseTotalNs == sum(PauseNs) (NumGC <= 256)",
    "NumForcedGC <= NumGC",
    "NumGC never goes down",
    "NextGC never falls while NumGC stays",
};

static int stop; /* atomic: churners stop */
static void *rings[NCHURN][RING];

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *churner(void *arg) {
    int id = (int)(intptr_t)arg;
    gcrt_thread_attach();
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        for (int k = 0; k < 256; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned slot = (unsigned)(x % RING);
            unsigned r = (unsigned)(x >> 32) % 100;
            void *p;
            if (r < 40)
                p = gcrt_alloc(16 + (x >> 40) % 1000); /* small, scan */
            else if (r < 70)
                p = gcrt_alloc_noscan(1 + (x >> 40) % 15); /* tiny */
            else if (r < 97)
                p = gcrt_alloc_noscan(16 + (x >> 40) % 8000);
            else
                p = gcrt_alloc_noscan(33000 + (x >> 40) % 40000); /* large */
            /* Now and then free what the slot held (explicit frees, the
             * stash; a tiny block is left alone by gcrt_free); else it is
             * garbage for the collector. */
            if (r % 8 == 0 && rings[id][slot]) gcrt_free(rings[id][slot]);
            rings[id][slot] = p;
        }
    }
    for (int i = 0; i < RING; i++) rings[id][i] = NULL;
    gcrt_thread_detach();
    return NULL;
}

struct reader {
    const char *name;
    int64_t run_ns;
    long reads;
    long bad[V_COUNT];
    int first_printed;
    uint32_t gc0, gc1;
    int done;                /* atomic */
    struct gcrt_memstats ms; /* 5 KiB: off the goroutine's stack */
};

static void report(struct reader *rd, int v, const struct gcrt_memstats *ms, uint32_t prev_gc,
                   uint64_t prev_next) {
    rd->bad[v]++;
    if (rd->first_printed) return;
    rd->first_printed = 1;
    fprintf(stderr,
            "%s: first violation at read %ld: %s\n"
            "  HeapAlloc %llu HeapInuse %llu HeapIdle %llu HeapSys %llu HeapReleased %llu\n"
            "  Mallocs %llu Frees %llu HeapObjects %llu TotalAlloc %llu Sys %llu\n"
            "  NumGC %u (previous read %u) NextGC %llu (previous read %llu) LastGC %llu "
            "PauseEnd[latest] %llu\n",
            rd->name, rd->reads, v_names[v], (unsigned long long)ms->heap_alloc,
            (unsigned long long)ms->heap_inuse, (unsigned long long)ms->heap_idle,
            (unsigned long long)ms->heap_sys, (unsigned long long)ms->heap_released,
            (unsigned long long)ms->mallocs, (unsigned long long)ms->frees,
            (unsigned long long)ms->heap_objects, (unsigned long long)ms->total_alloc,
            (unsigned long long)ms->sys, ms->num_gc, prev_gc, (unsigned long long)ms->next_gc,
            (unsigned long long)prev_next, (unsigned long long)ms->last_gc,
            (unsigned long long)ms->pause_end[(ms->num_gc + 255) % 256]);
}

static void check(struct reader *rd, const struct gcrt_memstats *ms, int have_prev,
                  uint32_t prev_gc, uint64_t prev_next) {
#define V(cond, v)                                                                                 \
    do {                                                                                           \
        if (!(cond)) report(rd, v, ms, prev_gc, prev_next);                                        \
    } while (0)
    V(ms->heap_alloc <= ms->heap_inuse, V_ALLOC_INUSE);
    V(ms->heap_inuse + ms->heap_idle == ms->heap_sys, V_INUSE_IDLE_SYS);
    V(ms->heap_released <= ms->heap_idle, V_RELEASED_IDLE);
    V(ms->heap_objects == ms->mallocs - ms->frees, V_OBJECTS);
    V(ms->frees <= ms->mallocs, V_FREES_MALLOCS);
    V(ms->heap_alloc <= ms->total_alloc, V_ALLOC_TOTAL);
    V(ms->sys == ms->heap_sys + ms->stack_sys + ms->mspan_sys + ms->mcache_sys + ms->buck_hash_sys +
                     ms->gc_sys + ms->other_sys,
      V_SYS);
    if (ms->num_gc > 0)
        V(ms->last_gc == ms->pause_end[(ms->num_gc + 255) % 256], V_LASTGC);
    else
        V(ms->last_gc == 0, V_LASTGC);
    if (ms->num_gc < 256)
        V(ms->pause_end[ms->num_gc % 256] == 0 && ms->pause_ns[ms->num_gc % 256] == 0, V_RING_NEXT);
    if (ms->num_gc <= 256) {
        uint64_t sum = 0;
        for (int i = 0; i < 256; i++) sum += ms->pause_ns[i];
        V(ms->pause_total_ns == sum, V_PAUSE_TOTAL);
    }
    V(ms->num_forced_gc <= ms->num_gc, V_FORCED);
    if (have_prev) {
        V(ms->num_gc >= prev_gc, V_NUMGC_BACK);
        if (ms->num_gc == prev_gc) V(ms->next_gc >= prev_next, V_NEXTGC_FALL);
    }
#undef V
}

static void read_loop(struct reader *rd) {
    struct gcrt_memstats *ms = &rd->ms;
    /* The run proves something only if cycles end during it: on a loaded
     * machine (or under TSan, where the first cycle comes late) it goes on
     * until a few have, up to 20 s. */
    int64_t start = now_ns(), end = start + rd->run_ns, hard_end = start + 20000000000ll;
    uint32_t prev_gc = 0;
    uint64_t prev_next = 0;
    for (int first = 1;; first = 0) {
        int64_t t = now_ns();
        if (!first && t >= end && (prev_gc - rd->gc0 >= MIN_CYCLES || t >= hard_end)) break;
        gcrt_read_memstats(ms);
        rd->reads++;
        if (first) rd->gc0 = ms->num_gc;
        check(rd, ms, !first, prev_gc, prev_next);
        prev_gc = ms->num_gc;
        prev_next = ms->next_gc;
    }
    rd->gc1 = prev_gc;
    __atomic_store_n(&rd->done, 1, __ATOMIC_RELEASE);
}

static void *attached_reader(void *arg) {
    gcrt_thread_attach();
    read_loop(arg);
    gcrt_thread_detach();
    return NULL;
}

static void *plain_reader(void *arg) {
    read_loop(arg); /* never attached */
    return NULL;
}

static void goroutine_reader(void *arg) {
    read_loop(arg);
}

static void test_snapshot(void) {
    int64_t run_ms = 1500;
    const char *e = getenv("MEMSTATS_SNAPSHOT_MS");
    if (e && *e) run_ms = atoll(e);
    /* Small goal: cycles back to back. */
    gcrt_set_gc_percent(5);
    static struct reader rd[NREADERS] = {
        {.name = "attached thread"},
        {.name = "unattached thread"},
        {.name = "goroutine"},
    };
    for (int i = 0; i < NREADERS; i++) rd[i].run_ns = run_ms * 1000000;
    pthread_t ch[NCHURN], rt[2];
    for (int i = 0; i < NCHURN; i++) pthread_create(&ch[i], NULL, churner, (void *)(intptr_t)i);
    pthread_create(&rt[0], NULL, attached_reader, &rd[0]);
    pthread_create(&rt[1], NULL, plain_reader, &rd[1]);
    REQUIRE_TRUE(gcrt_go(goroutine_reader, &rd[2]) > 0);
    gcrt_pthread_join(rt[0], NULL);
    gcrt_pthread_join(rt[1], NULL);
    while (!__atomic_load_n(&rd[2].done, __ATOMIC_ACQUIRE)) gcrt_sleep(1000000);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < NCHURN; i++) gcrt_pthread_join(ch[i], NULL);
    gcrt_set_gc_percent(100);

    long total = 0, reads = 0;
    for (int i = 0; i < NREADERS; i++) {
        long bad = 0;
        for (int v = 0; v < V_COUNT; v++) bad += rd[i].bad[v];
        fprintf(stderr, "%s: %ld reads, %u GC cycles during them, %ld violations\n", rd[i].name,
                rd[i].reads, rd[i].gc1 - rd[i].gc0, bad);
        for (int v = 0; v < V_COUNT; v++)
            if (rd[i].bad[v])
                fprintf(stderr, "    %-48s %ld (1 in %ld reads)\n", v_names[v], rd[i].bad[v],
                        rd[i].reads / rd[i].bad[v]);
        total += bad;
        reads += rd[i].reads;
        EXPECT_GT(rd[i].reads, 0);
    }
    /* The run proves something only if cycles ended during it. */
    for (int i = 0; i < NREADERS; i++) EXPECT_GE(rd[i].gc1 - rd[i].gc0, MIN_CYCLES);
    EXPECT_EQ(total, 0);
    (void)reads;
}

/* A read stops the world (the scheduler counts the stops), and that stop
 * is no GC pause: NumGC, PauseTotalNs and the rings stay as they were. */
static void test_read_is_not_a_gc_pause(void) {
    gcrt_set_gc_percent(-1);
    static struct gcrt_memstats a, b;
    gcrt_sched_stats_t s0, s1;
    gcrt_read_memstats(&a);
    gcrt_sched_read_stats(&s0);
    for (int i = 0; i < 100; i++) gcrt_read_memstats(&b);
    gcrt_sched_read_stats(&s1);
    EXPECT_GE(s1.stw_count - s0.stw_count, 100);
    EXPECT_EQ(b.num_gc, a.num_gc);
    EXPECT_UEQ(b.pause_total_ns, a.pause_total_ns);
    EXPECT_UEQ(b.last_gc, a.last_gc);
    EXPECT_TRUE(memcmp(a.pause_ns, b.pause_ns, sizeof a.pause_ns) == 0);
    gcrt_set_gc_percent(100);
}

int main(void) {
    gcrt_init();
    RUN(test_read_is_not_a_gc_pause);
    RUN(test_snapshot);
    return th_summary();
}
