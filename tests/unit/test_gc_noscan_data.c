/* test_gc_noscan_data.c - the globals the collector copies with the world
 * stopped leave out the runtime's own tables that never point into the GC
 * heap (GCRT_NOSCAN_DATA, runtime.h: the mcentrals, the mark workers,
 * the GC statistics; 55 KiB of the library's 87, about 4-7 us of each
 * sweep termination on binary-trees), and keep everything else: the
 * program's globals and the rest of the runtime's. A global of the
 * program still keeps its object alive across collections. */
#include <stdint.h>
#include <string.h>

#include "gc.h"
#include "gcrt.h"
#include "harness.h"
#include "mcentral.h"
#include "mheap.h"

static void *volatile program_global;
static uintptr_t program_data_word = 1; /* .data, not .bss */

static int covered(const gcrt_roots_t *r, const void *p, size_t len) {
    uintptr_t a = (uintptr_t)p;
    for (size_t i = 0; i < r->n; i++)
        if (a >= r->lo[i] && a + len <= r->hi[i]) return 1;
    return 0;
}

static int touches(const gcrt_roots_t *r, const void *p, size_t len) {
    uintptr_t a = (uintptr_t)p;
    for (size_t i = 0; i < r->n; i++)
        if (a < r->hi[i] && a + len > r->lo[i]) return 1;
    return 0;
}

static void test_ranges(void) {
    gcrt_roots_t r;
    memset(&r, 0, sizeof r);
    gcrt__gc_collect_global_roots(&r);
    REQUIRE_TRUE(r.n > 0);
    EXPECT_FALSE(touches(&r, gcrt__mcentral, sizeof gcrt__mcentral));
    EXPECT_TRUE(covered(&r, &gcrt__mheap, sizeof gcrt__mheap));
    EXPECT_TRUE(covered(&r, (const void *)&program_global, sizeof program_global));
    EXPECT_TRUE(covered(&r, &program_data_word, sizeof program_data_word));
    uint64_t sum = 0;
    for (size_t i = 0; i < r.n; i++) sum += r.hi[i] - r.lo[i];
    EXPECT_EQ(sum, r.bytes);
    fprintf(stderr, "  globals: %llu bytes in %zu ranges, mcentrals left out (%zu bytes)\n",
            (unsigned long long)r.bytes, r.n, sizeof gcrt__mcentral);
}

static void test_global_keeps_object(void) {
    uint64_t *p = gcrt_alloc(4096);
    for (int i = 0; i < 512; i++) p[i] = 0x5eed0000u + (uint64_t)i;
    program_global = (void *)((uintptr_t)p ^ 0); /* the only reference */
    p = NULL;
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < 2000; j++) (void)gcrt_alloc(512); /* garbage over it */
        gcrt_gc();
    }
    uint64_t *q = program_global;
    EXPECT_TRUE(gcrt_find_object(q, NULL, NULL));
    int bad = 0;
    for (int i = 0; i < 512; i++) bad += q[i] != 0x5eed0000u + (uint64_t)i;
    EXPECT_EQ(bad, 0);
}

int main(void) {
    gcrt_init();
    RUN(test_ranges);
    RUN(test_global_keeps_object);
    return th_summary();
}
