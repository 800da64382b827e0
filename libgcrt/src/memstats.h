/* memstats.h - MemStats internals (memstats.c). */
#ifndef GCRT_MEMSTATS_H
#define GCRT_MEMSTATS_H

#include "gcrt.h"
#include "sizeclasses.h"

/* Summed per-P allocation counters. */
struct gcrt_heap_counts {
    uint64_t small_alloc_count[GCRT_NUM_SIZE_CLASSES];
    uint64_t small_free_count[GCRT_NUM_SIZE_CLASSES];
    uint64_t large_alloc, large_alloc_count, large_free, large_free_count;
    uint64_t tiny_allocs;
};
void gcrt__read_heap_counts(struct gcrt_heap_counts *hc);

/* Goroutine stack bytes kept outside the page heap (the scheduler adds to
 * these atomically): StackInuse and the rest of StackSys. */
extern uint64_t gcrt__stack_inuse_extra;
extern uint64_t gcrt__stack_sys_extra;

/* The collector fills the GC fields (NextGC, LastGC, pauses, NumGC, ...)
 * of a MemStats read; NULL until it exists. */
extern void (*gcrt__gc_stats_hook)(struct gcrt_memstats *ms);

#endif
