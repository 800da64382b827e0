/* test_gc_forcegc.c - the periodic forced cycle (Go's forcegc): a cycle
 * once no cycle ran for forcegcperiod (2 minutes; shortened here), never
 * before the first cycle (Go: lastgc != 0 && now - lastgc > period; gcrt
 * counted the period from start-up, so a program that never reached its
 * first heap goal was collected anyway), never under GOGC=off, and not
 * counted as forced by the program (NumForcedGC). */
#include <stdlib.h>
#include <unistd.h>

#include "gc.h"
#include "gcrt.h"
#include "harness.h"

static struct gcrt_memstats stats(void) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    return ms;
}

static void test_forcegc(void) {
    setenv("GOGC", "100", 1);
    REQUIRE_EQ(gcrt_init(), 0);
    gcrt__forcegc_period_ns = 100 * 1000 * 1000;
    /* No first cycle yet: none forced, however long no cycle ran. */
    usleep(600 * 1000);
    EXPECT_EQ(stats().num_gc, 0);
    gcrt_gc();
    EXPECT_EQ(stats().num_gc, 1);
    EXPECT_EQ(stats().num_forced_gc, 1);
    /* Then one a period (the check runs at least every 100 ms). */
    uint32_t n = 0;
    for (int t = 0; t < 300 && n < 3; t++) {
        usleep(10 * 1000);
        n = stats().num_gc;
    }
    EXPECT_GE(n, 3);
    EXPECT_EQ(stats().num_forced_gc, 1);
    /* GOGC=off: none. */
    gcrt_set_gc_percent(-1);
    usleep(200 * 1000); /* a cycle the check began before may end meanwhile */
    uint32_t off = stats().num_gc;
    usleep(600 * 1000);
    EXPECT_EQ(stats().num_gc, off);
}

int main(void) {
    RUN(test_forcegc);
    return th_summary();
}
