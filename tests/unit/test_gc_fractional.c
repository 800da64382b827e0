/* test_gc_fractional.c - the fractional mark share done by the program's
 * threads (gc.c: mutator_fractional). With GOMAXPROCS=1 (tests/props.cmake)
 * and this attached thread allocating, the program runs on the only P: the
 * fractional worker thread would be one runnable thread more than there
 * are Ps (Go runs its fractional worker on a goroutine's P instead), so
 * this thread marks the 25% share itself at its allocation slow path.
 *   1. allocation-triggered cycles: the thread marks fractional slices
 *      (their CPU is counted) and the mark completes, cycle after cycle;
 *   2. the live structure built across those cycles is intact.
 * No timing. */
#include <stdint.h>
#include <stdlib.h>

#include "gcrt.h"
#include "harness.h"
#include "common/tree.h"
#include "gc.h"

static void test_thread_marks_the_fractional_share(void) {
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

int main(void) {
    if (gcrt_init() != 0) return 1;
    RUN(test_thread_marks_the_fractional_share);
    return th_summary();
}
