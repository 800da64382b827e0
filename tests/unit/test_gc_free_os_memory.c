/* test_gc_free_os_memory.c - gcrt_free_os_memory is Go's
 * debug.FreeOSMemory: "forces a garbage collection followed by an attempt
 * to return as much memory to the operating system as possible" (gcrt.h:
 * "Once the collector exists it collects first"). It released only the
 * pages that were free already: 64 MiB of garbage stayed allocated (and
 * resident), and no cycle ran (NumGC unchanged). */
#include <string.h>

#include "gcrt.h"
#include "harness.h"

static __attribute__((noinline)) void fill_and_drop(void) {
    for (int i = 0; i < 64; i++) {
        char *p = gcrt_alloc_noscan(1 << 20);
        memset(p, 1, 1 << 20);
    }
}

static __attribute__((noinline)) void wipe_stack(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void test_free_os_memory_collects_first(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    gcrt_set_gc_percent(-1); /* no cycle but the one asked for */
    fill_and_drop();
    wipe_stack();
    struct gcrt_memstats before, after;
    gcrt_read_memstats(&before);
    gcrt_free_os_memory();
    gcrt_read_memstats(&after);
    fprintf(stderr, "num_gc %u -> %u, heap_alloc %llu -> %llu, heap_released %llu -> %llu\n",
            before.num_gc, after.num_gc, (unsigned long long)before.heap_alloc,
            (unsigned long long)after.heap_alloc, (unsigned long long)before.heap_released,
            (unsigned long long)after.heap_released);
    EXPECT_EQ(after.num_gc, before.num_gc + 1);
    EXPECT_EQ(after.num_forced_gc, before.num_forced_gc + 1);
    EXPECT_ULT(after.heap_alloc + (48u << 20), before.heap_alloc);
    EXPECT_UGE(after.heap_released, before.heap_released + (48u << 20));
}

int main(void) {
    RUN(test_free_os_memory_collects_first);
    return th_summary();
}
