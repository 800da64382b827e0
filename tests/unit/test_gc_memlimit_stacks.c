/* test_gc_memlimit_stacks.c - the memory limit counts goroutine stacks
 * (and every other *Sys field) as Go's mappedReady does: the heap goal
 * under GOMEMLIMIT is limit - (Sys - HeapReleased - HeapAlloc - free heap)
 * - 1 MiB (spec 8.5, Go 1.19 memoryLimitHeapGoal), so memory the runtime
 * maps for stacks leaves that much less room for the heap. */
#include <stdint.h>
#include <stdio.h>

#include "common/parked.h"

enum { NG = 4000 };

static void test_limit_goal_counts_stacks(void) {
    gcrt_set_gc_percent(-1);
    park_goroutines(NG);

    const int64_t limit = 64 << 20;
    gcrt_set_memory_limit(limit);
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    uint64_t mapped_ready = ms.sys - ms.heap_released;
    uint64_t heap_free = ms.heap_idle - ms.heap_released;
    uint64_t non_heap = mapped_ready - heap_free - ms.heap_alloc;
    uint64_t go_goal = (uint64_t)limit - non_heap - (1 << 20);
    fprintf(stderr,
            "stack_sys %.1f MiB, sys-released %.1f MiB, non-heap %.1f MiB: NextGC %.1f MiB, Go's "
            "goal %.1f MiB\n",
            ms.stack_sys / 1048576.0, mapped_ready / 1048576.0, non_heap / 1048576.0,
            ms.next_gc / 1048576.0, go_goal / 1048576.0);
    EXPECT_UGE(ms.stack_sys, (uint64_t)NG * 4096);
    /* Slack: the pacer's heap_alloc is heap_live (free slots of cached
     * spans count as allocated), a little above HeapAlloc. */
    EXPECT_ULE(ms.next_gc, go_goal + (1 << 20));
    release_goroutines();
}

int main(void) {
    gcrt_init();
    RUN(test_limit_goal_counts_stacks);
    return th_summary();
}
