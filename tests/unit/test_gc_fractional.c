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
#include "gcrt.h"
#include "harness.h"
#include "common/fractional.h"

static void test_thread_marks_the_fractional_share(void) {
    check_thread_marks_fractional();
}

int main(void) {
    if (gcrt_init() != 0) return 1;
    RUN(test_thread_marks_the_fractional_share);
    return th_summary();
}
