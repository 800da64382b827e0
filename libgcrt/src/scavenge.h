/* scavenge.h - returning free heap pages to the OS (scavenge.c). */
#ifndef GCRT_SCAVENGE_H
#define GCRT_SCAVENGE_H

#include <stdint.h>

/* Go 1.19's retention goal (gcPaceScavenger): keep at most
 * last_heap_inuse * (heap_goal / last_heap_goal) * 110% of memory
 * retained (heap pages not released), rounded up to page_size. Without a
 * completed GC cycle (last_heap_goal == 0) the goal is heap_inuse * 110%.
 * Pure: tests call it directly. */
uint64_t gcrt__scavenge_goal(uint64_t heap_inuse, uint64_t last_heap_inuse, uint64_t heap_goal,
                             uint64_t last_heap_goal, uint64_t page_size);

/* Starts the background scavenger thread (once). 0 or -errno. */
int gcrt__scavenger_start(void);
/* Wakes the background scavenger (after frees or a GC cycle). */
void gcrt__scavenger_wake(void);
/* The pacing inputs from the collector; until it exists, zeros. */
void gcrt__scavenger_set_goal_inputs(uint64_t last_heap_inuse, uint64_t heap_goal,
                                     uint64_t last_heap_goal);
/* A knob moved the heap goal between cycles (Go: gcControllerCommit's
 * gcPaceScavenger): the new goal, the rest as the last cycle left them;
 * wakes the scavenger. */
void gcrt__scavenger_repace(uint64_t heap_goal);
/* The retention goal in force (tests). */
uint64_t gcrt__scavenger_goal_now(void);
/* Prints the scavtrace line (GODEBUG=scavtrace=1): work (bytes released
 * by what the line reports), total released, utilisation; suffix
 * " (forced)" or "". */
void gcrt__scavtrace_print(uint64_t work, const char *suffix);
/* The line after a cycle's sweep: the background scavenger's work since
 * the last such line (Go's bgsweep printScavTrace). */
void gcrt__scavtrace_print_sweep(void);

#endif
