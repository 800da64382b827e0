/* test_gc_sweep_pace.c - proportional sweep (mgcsweep.c, Go's
 * gcPaceSweeper and deductSweepCredit): the pace is the pages to sweep
 * over the heap growth left before the next trigger (less 1 MiB), and an
 * allocation that takes a span sweeps its share, ending the pacing when
 * nothing is left to sweep. Run with GOGC=off (props.cmake): the only
 * cycles are the test's own, so nobody else sets the pace meanwhile. */
#include <stdint.h>
#include <stdio.h>

#include "gcrt.h"
#include "harness.h"
#include "gc.h"
#include "malloc.h"
#include "os.h"
#include "sched.h"

static void test_pace_rate(void) {
    const uint64_t live = 64 << 20;
    /* 1024 pages over 9 MiB - 1 MiB: 2^10 / 2^23 pages per byte. */
    gcrt__sweep_pace(live + (9 << 20), live, 1024);
    EXPECT_UEQ(gcrt__sweep_pace_rate(), (uint64_t)1 << 19);
    /* Within 2 MiB of the trigger, or past it (cycles back to back): no
     * pacing, the next cycle's start sweeps what is left. */
    gcrt__sweep_pace(live + (2 << 20) - 1, live, 3);
    EXPECT_UEQ(gcrt__sweep_pace_rate(), 0);
    gcrt__sweep_pace(live, live, 3);
    EXPECT_UEQ(gcrt__sweep_pace_rate(), 0);
    gcrt__sweep_pace(live + (2 << 20), live, 3);
    EXPECT_UEQ(gcrt__sweep_pace_rate(), (uint64_t)3 << 12);
    /* No trigger (GOGC=off), or nothing to sweep: no pacing. */
    gcrt__sweep_pace(UINT64_MAX, live, 1024);
    EXPECT_UEQ(gcrt__sweep_pace_rate(), 0);
    gcrt__sweep_pace(live + (9 << 20), live, 0);
    EXPECT_UEQ(gcrt__sweep_pace_rate(), 0);
}

/* The sweep is complete after gcrt_gc: the first allocation that takes a
 * span finds nothing to sweep and ends the pacing. */
static void test_refill_sweeps_its_share(void) {
    gcrt_gc();
    uint64_t live = gcrt_load_relaxed(&gcrt__heap_live);
    gcrt__sweep_pace(live + (2 << 20), live, 1 << 20);
    EXPECT_TRUE(gcrt__sweep_pace_rate() != 0);
    void *volatile p = gcrt_alloc(32 << 10); /* one object per span: a refill */
    EXPECT_TRUE(p != NULL);
    EXPECT_UEQ(gcrt__sweep_pace_rate(), 0);
}

/* An allocation sweeps its share: the pace times the heap growth since the
 * pace (its own span included), no less (the sweep would not be done by
 * the trigger) and not much more (it would sweep the whole heap at once).
 * With the world stopped by this thread the background sweeper waits, so
 * every page swept is the deduction's. */
static void test_deduct_sweeps_its_share(void) {
    int tries = 0, measured = 0;
    for (; tries < 5 && !measured; tries++) {
        for (int i = 0; i < (32 << 20) / 32; i++) {
            void *p = gcrt_alloc(32);
            gcrt_keep_alive(p);
        }
        gcrt__gc_cycle(); /* the sweep is left to the background sweeper */
        gcrt__stop_the_world("test_deduct_sweeps_its_share");
        uint64_t before = gcrt__sweep_pages_swept();
        for (int quiet = 0, k = 0; quiet < 5 && k < 2000; k++) {
            gcrt__os_sleep_ns(1000 * 1000); /* a span it was sweeping */
            uint64_t now = gcrt__sweep_pages_swept();
            quiet = now == before ? quiet + 1 : 0;
            before = now;
        }
        if (!gcrt__sweep_done()) {
            uint64_t live = gcrt_load_relaxed(&gcrt__heap_live);
            /* 4096 pages to sweep over 64 MiB of growth (less 1 MiB). */
            gcrt__sweep_pace(live + (65 << 20), live, 4096);
            uint64_t rate = gcrt__sweep_pace_rate(), basis = gcrt__sweep_pages_swept();
            gcrt__sweep_deduct(16 << 20);
            uint64_t swept = gcrt__sweep_pages_swept() - basis;
            uint64_t target = (uint64_t)(((unsigned __int128)rate * (16 << 20)) >> 32);
            if (gcrt__sweep_pace_rate() != 0) { /* spans were left to reach it */
                measured = 1;
                printf("deduct: %llu pages swept for a share of %llu\n", (unsigned long long)swept,
                       (unsigned long long)target);
                EXPECT_UGE(swept, target);
                EXPECT_ULE(swept, target + 16); /* a span is 16 pages at most here */
            }
            gcrt__sweep_pace(UINT64_MAX, live, 0); /* pacing off again */
        }
        gcrt__start_the_world();
    }
    EXPECT_TRUE(measured);
}

/* A knob re-paces the sweep (Go's gcControllerCommit: gcPaceSweeper): with
 * GOGC=off there is no trigger and no pacing; GOGC=100 set while spans are
 * left to sweep paces what is left over the new runway, and off again
 * stops it. The world is stopped by this thread meanwhile, so the
 * background sweeper leaves the spans. */
static void test_knob_repaces_the_sweep(void) {
    int measured = 0;
    for (int tries = 0; tries < 5 && !measured; tries++) {
        for (int i = 0; i < (32 << 20) / 32; i++) {
            void *p = gcrt_alloc(32);
            gcrt_keep_alive(p);
        }
        gcrt__gc_cycle();
        EXPECT_UEQ(gcrt__sweep_pace_rate(), 0); /* GOGC=off */
        gcrt__stop_the_world("test_knob_repaces_the_sweep");
        uint64_t before = gcrt__sweep_pages_swept();
        for (int quiet = 0, k = 0; quiet < 5 && k < 2000; k++) {
            gcrt__os_sleep_ns(1000 * 1000);
            uint64_t now = gcrt__sweep_pages_swept();
            quiet = now == before ? quiet + 1 : 0;
            before = now;
        }
        if (!gcrt__sweep_done()) {
            int old = gcrt_set_gc_percent(100);
            EXPECT_EQ(old, -1);
            measured = gcrt__sweep_pace_rate() != 0;
            printf("GOGC=100 with spans left: %llu pages per 2^32 bytes\n",
                   (unsigned long long)gcrt__sweep_pace_rate());
        }
        gcrt__start_the_world();
        gcrt_set_gc_percent(-1);
        EXPECT_UEQ(gcrt__sweep_pace_rate(), 0);
    }
    EXPECT_TRUE(measured);
}

/* The background sweeper is a runtime thread, not an M: it does not stop
 * with the world, but it waits for the world to restart instead of
 * sweeping (taking a CPU) through a stop-the-world. */
static void test_bgsweep_waits_for_the_world(void) {
    /* Until a stop finds spans left to sweep (the sweeper may finish 32 MiB
     * of 32-byte garbage before the stop on an idle machine). */
    int tries = 0;
    uint64_t before = 0, during = 0;
    for (; tries < 5; tries++) {
        for (int i = 0; i < (32 << 20) / 32; i++) {
            void *p = gcrt_alloc(32);
            gcrt_keep_alive(p);
        }
        gcrt__gc_cycle(); /* marked; the sweep is left to the background sweeper */
        gcrt__stop_the_world("test_bgsweep_waits_for_the_world");
        /* A span it was sweeping when the stop began is finished first:
         * wait until the count has not moved for 5 ms (a loaded machine
         * may keep the sweeper from its CPU for a while). */
        before = gcrt__sweep_pages_swept();
        for (int quiet = 0, k = 0; quiet < 5 && k < 2000; k++) {
            gcrt__os_sleep_ns(1000 * 1000);
            uint64_t now = gcrt__sweep_pages_swept();
            quiet = now == before ? quiet + 1 : 0;
            before = now;
        }
        gcrt__bgsweep_wake();
        gcrt__os_sleep_ns(20 * 1000 * 1000);
        during = gcrt__sweep_pages_swept();
        int left = !gcrt__sweep_done();
        gcrt__start_the_world();
        EXPECT_UEQ(during, before);
        if (left) break;
    }
    printf("bgsweep: a stop with spans left to sweep after %d tries\n", tries + 1);
    EXPECT_LT(tries, 5);
    /* Once the world runs it sweeps everything. */
    for (int i = 0; i < 2000 && !gcrt__sweep_done(); i++) gcrt__os_sleep_ns(1000 * 1000);
    EXPECT_TRUE(gcrt__sweep_done());
    EXPECT_GT(gcrt__sweep_pages_swept(), during);
}

int main(void) {
    EXPECT_EQ(gcrt_init(), 0);
    RUN(test_pace_rate);
    RUN(test_refill_sweeps_its_share);
    RUN(test_deduct_sweeps_its_share);
    RUN(test_knob_repaces_the_sweep);
    RUN(test_bgsweep_waits_for_the_world);
    return th_summary();
}
