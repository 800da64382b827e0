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
#include "gcrt.h"
#include "harness.h"
#include "common/fractional.h"

static void test_thread_marks_its_share_beside_a_free_p(void) {
    check_thread_marks_fractional();
}

int main(void) {
    if (gcrt_init() != 0) return 1;
    RUN(test_thread_marks_its_share_beside_a_free_p);
    return th_summary();
}
