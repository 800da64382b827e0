/* test_scavenge_repace.c - a knob that moves the heap goal moves the
 * scavenger's retention goal at once (Go: gcControllerCommit ends with
 * gcPaceScavenger), not at the next cycle's end: the goal is
 * last_heap_inuse x heap_goal / last_heap_goal x 110%, and the heap goal is
 * the new one. No timing: the goal itself is read. */
#include <stdio.h>
#include <string.h>

#include "gcrt.h"
#include "harness.h"
#include "scavenge.h"

static void *volatile live[256];

static void test_gogc_moves_the_scavenger_goal(void) {
    for (int i = 0; i < 256; i++) { /* 16 MiB live */
        live[i] = gcrt_alloc(64 << 10);
        memset(live[i], 1, 64 << 10);
    }
    gcrt_gc();
    gcrt_gc(); /* a last heap goal to scale from */
    uint64_t g100 = gcrt__scavenger_goal_now();
    int old = gcrt_set_gc_percent(50);
    uint64_t g50 = gcrt__scavenger_goal_now();
    gcrt_set_gc_percent(old);
    uint64_t back = gcrt__scavenger_goal_now();
    fprintf(stderr, "scavenger goal: GOGC=100 %llu, 50 %llu, 100 again %llu\n",
            (unsigned long long)g100, (unsigned long long)g50, (unsigned long long)back);
    /* Heap goal 1.5 x marked instead of 2 x (plus the roots' terms). */
    EXPECT_ULE(g50, g100 / 100 * 85);
    EXPECT_UGE(g50, g100 / 100 * 60);
    EXPECT_ULE(back, g100 + g100 / 50);
    EXPECT_UGE(back, g100 - g100 / 50);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_gogc_moves_the_scavenger_goal);
    return th_summary();
}
