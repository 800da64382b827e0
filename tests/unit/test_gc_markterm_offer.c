/* test_gc_markterm_offer.c - mark termination offered to the program.
 *
 * When the background workers find the mark done while a program thread
 * computes without allocating, the stop that ends the mark would have to
 * signal that thread. Instead the worker offers the termination to the
 * program (gc.c, "mark termination at a program's safepoint"):
 *   - the thread's next allocation (or gcrt_checkpoint) runs the mark
 *     termination itself, before it returns, and no stop signal is sent;
 *   - if no thread takes the offer in time, the worker ends the mark
 *     itself, signalling the computing thread as before;
 *   - a thread waiting for the cycle (gcrt_gc) does not wait out the offer.
 * The offer window is set long (or short) here so that each outcome is
 * forced, not timed. */
#include <pthread.h>
#include <time.h>

#include "gc.h"
#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "sched.h"

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint32_t phase(void) {
    return __atomic_load_n(&gcrt__gcphase, __ATOMIC_ACQUIRE);
}

static int64_t signals(void) {
    int64_t count, last, max, total, sig;
    gcrt__stw_stats(&count, &last, &max, &total, &sig);
    return sig;
}

/* Live data for the mark to scan, so that it takes a while. */
static void **live;
enum { NLIVE = 20000 };

static void build_live(void) {
    live = gcrt_alloc(NLIVE * sizeof(void *));
    for (int i = 0; i < NLIVE; i++) gcrt_store(&live[i], gcrt_alloc(64));
}

/* Allocates garbage until an automatic (unforced) cycle is marking, then
 * stops allocating at once: an allocation after the mark is done takes the
 * offer (a thread descheduled for a few ms under load finds the mark done
 * when it runs again, and the offer open). */
static int start_cycle(void) {
    int64_t deadline = now_ns() + 20LL * 1000 * 1000 * 1000;
    for (int i = 0; phase() == GCRT_GC_OFF; i++) {
        (void)gcrt_alloc(128);
        if (i % 64 == 0 && now_ns() > deadline) return 0;
    }
    return 1;
}

/* Computes (no allocation, no safepoint) until cond() or 20 s. */
static volatile uint64_t sink;
static int spin_until(int (*cond)(void)) {
    int64_t deadline = now_ns() + 20LL * 1000 * 1000 * 1000;
    uint64_t x = 1;
    while (!cond()) {
        for (int i = 0; i < 1000; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        sink = x;
        if (now_ns() > deadline) return 0;
    }
    return 1;
}

static int offer_open(void) {
    return (__atomic_load_n(&gcrt__gc_term_offer, __ATOMIC_ACQUIRE) & 1) != 0;
}
static int mark_over(void) {
    return phase() == GCRT_GC_OFF;
}

/* The offer is taken by this thread's next allocation: the mark is over
 * when the allocation returns, and the stop signalled nobody. */
static void test_taken_by_allocation(void) {
    __atomic_store_n(&gcrt__gc_markterm_offer_ns, 60LL * 1000 * 1000 * 1000, __ATOMIC_RELAXED);
    for (int round = 0; round < 3; round++) {
        REQUIRE_TRUE(start_cycle());
        REQUIRE_TRUE(spin_until(offer_open)); /* the workers are done; we compute */
        uint64_t taken = __atomic_load_n(&gcrt__gc_offers_taken, __ATOMIC_RELAXED);
        int64_t sig = signals();
        void *p = gcrt_alloc(64); /* takes it */
        EXPECT_EQ(phase(), GCRT_GC_OFF);
        EXPECT_FALSE(offer_open());
        EXPECT_EQ(__atomic_load_n(&gcrt__gc_offers_taken, __ATOMIC_RELAXED), taken + 1);
        EXPECT_EQ(signals(), sig);
        /* Allocated black before the termination: survives its sweep. */
        EXPECT_TRUE(gcrt_find_object(p, NULL, NULL));
        gcrt_keep_alive(p);
    }
}

/* gcrt_checkpoint takes it too. */
static void test_taken_by_checkpoint(void) {
    __atomic_store_n(&gcrt__gc_markterm_offer_ns, 60LL * 1000 * 1000 * 1000, __ATOMIC_RELAXED);
    REQUIRE_TRUE(start_cycle());
    REQUIRE_TRUE(spin_until(offer_open));
    uint64_t taken = __atomic_load_n(&gcrt__gc_offers_taken, __ATOMIC_RELAXED);
    gcrt_checkpoint();
    EXPECT_EQ(phase(), GCRT_GC_OFF);
    EXPECT_EQ(__atomic_load_n(&gcrt__gc_offers_taken, __ATOMIC_RELAXED), taken + 1);
}

/* Nobody takes it: the worker ends the mark after the window, with the
 * stop signal for this computing thread. */
static void test_expires(void) {
    __atomic_store_n(&gcrt__gc_markterm_offer_ns, 20LL * 1000 * 1000, __ATOMIC_RELAXED);
    uint64_t expired = __atomic_load_n(&gcrt__gc_offers_expired, __ATOMIC_RELAXED);
    uint64_t taken = __atomic_load_n(&gcrt__gc_offers_taken, __ATOMIC_RELAXED);
    int64_t sig = signals();
    REQUIRE_TRUE(start_cycle());
    EXPECT_TRUE(spin_until(mark_over));
    EXPECT_EQ(__atomic_load_n(&gcrt__gc_offers_expired, __ATOMIC_RELAXED), expired + 1);
    EXPECT_EQ(__atomic_load_n(&gcrt__gc_offers_taken, __ATOMIC_RELAXED), taken);
    EXPECT_TRUE(signals() > sig);
}

/* gcrt_gc on another thread while the offer is open (for a minute): it
 * returns, with two cycles done, while this thread still computes. */
static int gc_returned;
static int64_t gc_took_ns;
static void *gc_thread(void *arg) {
    (void)arg;
    int64_t t0 = now_ns();
    gcrt_gc();
    gc_took_ns = now_ns() - t0;
    __atomic_store_n(&gc_returned, 1, __ATOMIC_RELEASE);
    return NULL;
}
static int gc_done(void) {
    return __atomic_load_n(&gc_returned, __ATOMIC_ACQUIRE);
}

static void test_waiter_hurries(void) {
    __atomic_store_n(&gcrt__gc_markterm_offer_ns, 60LL * 1000 * 1000 * 1000, __ATOMIC_RELAXED);
    REQUIRE_TRUE(start_cycle());
    REQUIRE_TRUE(spin_until(offer_open));
    uint64_t expired = __atomic_load_n(&gcrt__gc_offers_expired, __ATOMIC_RELAXED);
    pthread_t t;
    REQUIRE_EQ(pthread_create(&t, NULL, gc_thread, NULL), 0);
    EXPECT_TRUE(spin_until(gc_done)); /* 20 s at most; the offer would hold it 60 */
    pthread_join(t, NULL);
    EXPECT_TRUE(gc_took_ns < 30LL * 1000 * 1000 * 1000);
    /* Ended by the worker (no allocation here), not taken. */
    EXPECT_EQ(__atomic_load_n(&gcrt__gc_offers_expired, __ATOMIC_RELAXED), expired + 1);
}

int main(void) {
    gcrt_init();
    build_live();
    RUN(test_taken_by_allocation);
    RUN(test_taken_by_checkpoint);
    RUN(test_expires);
    RUN(test_waiter_hurries);
    gcrt_keep_alive(live);
    return th_summary();
}
