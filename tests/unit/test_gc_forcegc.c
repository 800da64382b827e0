/* test_gc_forcegc.c - the periodic forced cycle (Go's forcegc): a cycle
 * once no cycle ran for forcegcperiod (2 minutes; shortened here), never
 * before the first cycle (Go: lastgc != 0 && now - lastgc > period; gcrt
 * counted the period from start-up, so a program that never reached its
 * first heap goal was collected anyway), never under GOGC=off, and not
 * counted as forced by the program (NumForcedGC). */
#include <stdlib.h>

#include "gc.h"
#include "os.h"
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
    gcrt__os_sleep_ns(600 * 1000 * 1000);
    EXPECT_EQ(stats().num_gc, 0);
    gcrt_gc();
    EXPECT_EQ(stats().num_gc, 1);
    EXPECT_EQ(stats().num_forced_gc, 1);
    /* Then one a period (the check runs at least every 100 ms). */
    uint32_t n = 0;
    for (int64_t t0 = gcrt__nanotime(); n < 3 && gcrt__nanotime() - t0 < 10 * 1000000000LL;) {
        gcrt__os_sleep_ns(10 * 1000 * 1000);
        n = stats().num_gc;
    }
    EXPECT_GE(n, 3);
    EXPECT_EQ(stats().num_forced_gc, 1);
    /* GOGC=off: none. */
    gcrt_set_gc_percent(-1);
    gcrt__os_sleep_ns(200 * 1000 * 1000); /* a cycle the check began before may end meanwhile */
    uint32_t off = stats().num_gc;
    gcrt__os_sleep_ns(600 * 1000 * 1000);
    EXPECT_EQ(stats().num_gc, off);
}

#if GCRT_ASSERT_LEVEL >= 2
/* gcrt_set_gc_percent(-1) returns with no cycle running (Go: SetGCPercent
 * waits for one in progress), also when the periodic check read the old
 * value just before: the hook holds the check there, between its reading
 * and its start, while this thread turns the collector off. gcrt returned
 * at once and the cycle started after it. */
static uint32_t in_hook;
static void hold_start(void) {
    gcrt__forcegc_test_hook = NULL;
    __atomic_store_n(&in_hook, 1, __ATOMIC_RELEASE);
    gcrt__os_sleep_ns(50 * 1000 * 1000);
}

static void test_off_waits_for_periodic_start(void) {
    gcrt_set_gc_percent(100);
    gcrt_gc();
    gcrt__forcegc_test_hook = hold_start;
    gcrt__forcegc_period_ns = 50 * 1000 * 1000;
    for (int64_t t0 = gcrt__nanotime();
         !__atomic_load_n(&in_hook, __ATOMIC_ACQUIRE) && gcrt__nanotime() - t0 < 10 * 1000000000LL;)
        gcrt__os_sleep_ns(1000 * 1000);
    REQUIRE_TRUE(__atomic_load_n(&in_hook, __ATOMIC_ACQUIRE));
    gcrt_set_gc_percent(-1);
    uint32_t n = stats().num_gc;
    /* (not usleep: a stop-the-world's signal cuts it short) */
    gcrt__os_sleep_ns(300 * 1000 * 1000);
    EXPECT_EQ(stats().num_gc, n);
}
#endif

int main(void) {
    RUN(test_forcegc);
#if GCRT_ASSERT_LEVEL >= 2
    RUN(test_off_waits_for_periodic_start);
#endif
    return th_summary();
}
