/* test_gc_fractional_free.c - the program's thread marks its own P's
 * fractional share even when another P is free (gc.c: mutator_fractional).
 * Go runs its fractional worker on every P below the per-P goal, the
 * program's P included; with GOMAXPROCS=2 (tests/props.cmake) and this one
 * attached thread allocating, the other P is free: the worker thread marks
 * that P's share (and idles on it), and this thread marks the 25% of its
 * own P at its allocation slow path.
 *   1. allocation-triggered cycles: this thread marks fractional slices
 *      (their CPU is counted) although a P is free, and the marks complete;
 *   2. the live structure built across those cycles is intact.
 * No timing. */
#include <stdint.h>
#include <stdlib.h>

#include "gcrt.h"
#include "harness.h"
#include "common/tree.h"
#include "gc.h"

static void test_thread_marks_its_share_beside_a_free_p(void) {
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    uint32_t gc0 = ms.num_gc;
    int64_t frac0 = gcrt__gc_mutator_fractional_ns();
    struct node *live = tree(15, 1);
    uint64_t want = sum(live);
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
    RUN(test_thread_marks_its_share_beside_a_free_p);
    return th_summary();
}
