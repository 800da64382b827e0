/* test_gc_cpu_fraction.c - MemStats.GCCPUFraction is the value computed
 * at the end of the last cycle (Go 1.19: gcMarkTermination sets
 * memstats.gc_cpu_fraction; readmemstats_m copies it), the same number
 * gctrace prints as U (spec 1.3, 2 #29): two reads with no cycle between
 * them give the same value. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "gcrt.h"
#include "harness.h"

static void test_fraction_is_last_cycles(void) {
    gcrt_set_gc_percent(-1); /* no heap-triggered cycle between the reads */
    for (int i = 0; i < 3; i++) gcrt_gc();
    struct gcrt_memstats a, b;
    gcrt_read_memstats(&a);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    gcrt_read_memstats(&b);
    fprintf(stderr, "NumGC %u/%u GCCPUFraction %.9g then %.9g\n", a.num_gc, b.num_gc,
            a.gc_cpu_fraction, b.gc_cpu_fraction);
    REQUIRE_EQ(a.num_gc, b.num_gc);
    EXPECT_TRUE(a.gc_cpu_fraction > 0);
    EXPECT_TRUE(a.gc_cpu_fraction == b.gc_cpu_fraction);
}

int main(void) {
    gcrt_init();
    RUN(test_fraction_is_last_cycles);
    return th_summary();
}
