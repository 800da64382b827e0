/* fractional.h - the check both fractional-share tests make: allocation-
 * triggered cycles in which this thread marks fractional slices (their CPU
 * is counted), cycle after cycle, with a live tree built before them left
 * intact. The tests differ in GOMAXPROCS (tests/props.cmake). No timing. */
#ifndef GCRT_TESTS_FRACTIONAL_H
#define GCRT_TESTS_FRACTIONAL_H

#include <stdint.h>

#include "gcrt.h"
#include "harness.h"
#include "common/tree.h"
#include "gc.h"

static inline void check_thread_marks_fractional(void) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    uint32_t gc0 = ms.num_gc;
    int64_t frac0 = gcrt__gc_mutator_fractional_ns();
    /* Something to mark: a live tree of 2^16 nodes, kept on the stack. */
    struct node *live = tree(15, 1);
    uint64_t want = sum(live);
    /* Garbage until ten cycles have started and ended on allocation. */
    for (int round = 0; round < 100000; round++) {
        (void)tree(10, (uint64_t)round);
        gcrt_read_memstats(&ms);
        if (ms.num_gc - gc0 >= 10) break;
    }
    EXPECT_GE(ms.num_gc - gc0, 10u);
    EXPECT_GT(gcrt__gc_mutator_fractional_ns() - frac0, 0);
    EXPECT_UEQ(sum(live), want);
    gcrt_keep_alive(live);
}

#endif
