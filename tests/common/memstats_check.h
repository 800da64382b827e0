/* memstats_check.h - Go's MemStats identities, checked by several tests. */
#ifndef GCRT_TESTS_MEMSTATS_CHECK_H
#define GCRT_TESTS_MEMSTATS_CHECK_H

#include "gcrt.h"
#include "harness.h"

static inline void check_memstats_invariants(const struct gcrt_memstats *ms) {
    EXPECT_UEQ(ms->alloc, ms->heap_alloc);
    EXPECT_UEQ(ms->heap_objects, ms->mallocs - ms->frees);
    EXPECT_UEQ(ms->heap_sys, ms->heap_inuse + ms->heap_idle);
    EXPECT_UGE(ms->heap_idle, ms->heap_released);
    EXPECT_UEQ(ms->sys, ms->heap_sys + ms->stack_sys + ms->mspan_sys + ms->mcache_sys +
                            ms->buck_hash_sys + ms->gc_sys + ms->other_sys);
    EXPECT_UGE(ms->heap_inuse, ms->heap_alloc);
    EXPECT_UGE(ms->total_alloc, ms->heap_alloc);
    EXPECT_UGE(ms->mallocs, ms->frees);
    EXPECT_UGE(ms->mspan_sys, ms->mspan_inuse);
    EXPECT_UGE(ms->mcache_sys, ms->mcache_inuse);
    EXPECT_UGE(ms->stack_sys, ms->stack_inuse);
    EXPECT_EQ(ms->heap_inuse % 8192, 0);
    EXPECT_EQ(ms->heap_sys % 8192, 0);
    EXPECT_EQ(ms->lookups, 0);
    EXPECT_TRUE(ms->enable_gc);
    EXPECT_FALSE(ms->debug_gc);
    EXPECT_LE(ms->num_forced_gc, ms->num_gc);
    uint64_t bysize_mallocs = 0, bysize_frees = 0;
    for (int i = 0; i < GCRT_NUM_BYSIZE; i++) {
        EXPECT_UGE(ms->by_size[i].mallocs, ms->by_size[i].frees);
        bysize_mallocs += ms->by_size[i].mallocs;
        bysize_frees += ms->by_size[i].frees;
    }
    EXPECT_ULE(bysize_mallocs, ms->mallocs);
    EXPECT_ULE(bysize_frees, ms->frees);
    EXPECT_EQ(ms->by_size[0].size, 0);
    EXPECT_EQ(ms->by_size[60].size, 18432);
    uint64_t total = 0;
    for (int i = 0; i < 256; i++) total += ms->pause_ns[i];
    if (ms->num_gc <= 256) EXPECT_UEQ(ms->pause_total_ns, total);
    EXPECT_UGE(ms->pause_total_ns, total); /* the ring keeps the last 256 */
    /* The rings, past 256 cycles too: the latest at (NumGC+255)%256, and
     * the cycles' ends in order going back from it. */
    if (ms->num_gc > 0) EXPECT_UEQ(ms->last_gc, ms->pause_end[(ms->num_gc + 255) % 256]);
    unsigned n = ms->num_gc < 256 ? ms->num_gc : 256;
    for (unsigned j = 1; j < n; j++)
        EXPECT_ULE(ms->pause_end[(ms->num_gc - 1 - j) % 256],
                   ms->pause_end[(ms->num_gc - j) % 256]);
}

#endif
