/* test_gc_graph_offer.c - test_gc_graph with heap-triggered cycles only
 * (no gcrt_gc loop: forced cycles never offer their mark termination), so
 * that most mark terminations are taken by the workers themselves,
 * goroutines and attached threads, at an allocation (gc.c, "mark
 * termination at a program's safepoint"), with GODEBUG=gccheckmark=1
 * (props.cmake) re-marking every cycle stop-the-world. The graph's checks
 * are test_gc_graph's; this one also wants offers taken. */
#include <stdint.h>

#include "gc.h"

static uint64_t offers_taken0;
static void offers_begin(void) __attribute__((constructor));
static void offers_begin(void) {
    offers_taken0 = __atomic_load_n(&gcrt__gc_offers_taken, __ATOMIC_RELAXED);
}
#define GCG_AFTER_GRAPH()                                                                          \
    do {                                                                                           \
        uint64_t taken =                                                                           \
            __atomic_load_n(&gcrt__gc_offers_taken, __ATOMIC_RELAXED) - offers_taken0;             \
        fprintf(stderr, "  mark terminations taken by the workers: %llu\n",                        \
                (unsigned long long)taken);                                                        \
        EXPECT_GT(taken, 0);                                                                       \
    } while (0)
#define GCG_DEFAULT_GCLOOP 0
#include "test_gc_graph.c"
