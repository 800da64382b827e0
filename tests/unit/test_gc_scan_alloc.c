/* test_gc_scan_alloc.c - the scannable allocation the pacer's worst-case
 * scan work counts (gcrt__heap_scan_alloc) is what was really allocated,
 * however often a span goes in and out of a cache. */
#include <stdint.h>

#include "gcrt.h"
#include "harness.h"
#include "malloc.h"
#include "mcentral.h"
#include "mheap.h"

static void test_heap_scan_not_recounted_on_recache(void) {
    /* A scannable span handed back to its mcentral and cached again must
     * not count its free slots as scannable allocation a second time:
     * gcrt__heap_scan_alloc is the scannable allocation since the last
     * mark (Go: heapScan += scanAlloc, the bytes really allocated). */
    int percent = gcrt_set_gc_percent(-1); /* no cycle resets the counter */
    gcrt_thread_detach();
    gcrt_thread_attach();
    enum { N = 200 };
    uint64_t before = __atomic_load_n(&gcrt__heap_scan_alloc, __ATOMIC_RELAXED);
    for (int i = 0; i < N; i++) {
        void *p = gcrt_alloc(8); /* class 1, scan: 1024 slots a span */
        gcrt_keep_alive(p);
        gcrt_thread_detach(); /* the P goes idle: its cache is released */
        gcrt_thread_attach();
    }
    uint64_t after = __atomic_load_n(&gcrt__heap_scan_alloc, __ATOMIC_RELAXED);
    /* N objects of 8 bytes; allow one span's worth of slack. */
    EXPECT_ULE(after - before, (uint64_t)N * 8 + 8192);
    gcrt_set_gc_percent(percent);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_heap_scan_not_recounted_on_recache);
    return th_summary();
}
