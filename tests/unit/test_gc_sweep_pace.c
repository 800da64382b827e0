/* test_gc_sweep_pace.c - proportional sweep (mgcsweep.c, Go's
 * gcPaceSweeper and deductSweepCredit): the pace is the pages to sweep
 * over the heap growth left before the next trigger (less 1 MiB), and an
 * allocation that takes a span sweeps its share, ending the pacing when
 * nothing is left to sweep. Run with GOGC=off (props.cmake): the only
 * cycles are the test's own, so nobody else sets the pace meanwhile. */
#include <stdint.h>

#include "gcrt.h"
#include "harness.h"
#include "gc.h"
#include "malloc.h"

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

int main(void) {
    EXPECT_EQ(gcrt_init(), 0);
    RUN(test_pace_rate);
    RUN(test_refill_sweeps_its_share);
    return th_summary();
}
