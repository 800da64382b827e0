/* test_scavenge_limit_nonheap.c - under a memory limit the background
 * scavenger brings what the limit counts, Sys - HeapReleased (Go:
 * mappedReady, gcPaceScavenger and the scavenger's memoryLimitGoal check),
 * down to 95% of the limit, not only the heap's retained part: memory the
 * runtime maps for goroutine stacks counts against the limit too. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "common/parked.h"

enum { NG = 4000 };

static __attribute__((noinline)) void garbage(int mib) {
    for (int i = 0; i < mib; i++) {
        char *volatile p = gcrt_alloc_noscan(1 << 20);
        p[0] = 1;
    }
}

static void test_background_scavenger_counts_non_heap(void) {
    gcrt_set_gc_percent(-1);
    park_goroutines(NG);
    garbage(32);
    gcrt_gc(); /* 32 MiB of free heap pages, not released */

    const int64_t limit = 40 << 20;
    const uint64_t goal = (uint64_t)limit / 100 * 95;
    gcrt_set_memory_limit(limit);
    struct gcrt_memstats ms;
    uint64_t ready_bytes = 0;
    for (int i = 0; i < 300; i++) { /* 3 s: the scavenger paces itself at 1% CPU */
        gcrt_read_memstats(&ms);
        ready_bytes = ms.sys - ms.heap_released;
        if (ready_bytes <= goal + (64 << 10)) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr,
            "limit 40 MiB: Sys-HeapReleased %.1f MiB (stacks %.1f MiB, heap retained %.1f MiB)\n",
            ready_bytes / 1048576.0, ms.stack_sys / 1048576.0,
            (ms.heap_sys - ms.heap_released) / 1048576.0);
    EXPECT_ULE(ready_bytes, goal + (64 << 10));
    release_goroutines();
}

int main(void) {
    gcrt_init();
    RUN(test_background_scavenger_counts_non_heap);
    return th_summary();
}
