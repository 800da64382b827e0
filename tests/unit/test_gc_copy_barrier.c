/* test_gc_copy_barrier.c - the runtime's copies of memory that may hold
 * pointers (channel elements: gcrt__copy_barrier) shade, while marking, the
 * pointers they overwrite as well as those they copy, also on the path for
 * unaligned or odd-sized copies. Marking is switched on by hand with the
 * collector off (GOGC=off, props.cmake), so the shades are seen in the
 * mark bits before any cycle could clear them. */
#include <string.h>

#include "gcrt.h"
#include "harness.h"
#include "gc.h"
#include "mheap.h"

static int marked(const void *p) {
    gcrt_span_t *s = gcrt__span_of(&gcrt__mheap, (uintptr_t)p);
    if (!s) return -1;
    uintptr_t idx =
        s->divmagic ? (uintptr_t)(((uint64_t)((uintptr_t)p - s->base) * s->divmagic) >> 32) : 0;
    return (int)((s->gcmark_bits[idx / 64] >> (idx % 64)) & 1);
}

static void with_marking(int on) {
    __atomic_store_n(&gcrt__gc_marking, (uint32_t)on, __ATOMIC_RELEASE);
    __atomic_store_n(&gcrt_gc_barrier_on, (uint32_t)on, __ATOMIC_RELEASE);
}

static void check_copy(size_t n) {
    void **dst = gcrt_alloc(64), **src = gcrt_alloc(64);
    void *old = gcrt_alloc(32), *val = gcrt_alloc(32);
    dst[0] = old; /* overwritten by the copy: the only reference */
    src[0] = val;
    EXPECT_EQ(marked(old), 0);
    EXPECT_EQ(marked(val), 0);
    with_marking(1);
    gcrt__copy_barrier(dst, src, n);
    with_marking(0);
    EXPECT_TRUE(dst[0] == val);
    EXPECT_EQ(marked(old), 1); /* the deletion half of the barrier */
    EXPECT_EQ(marked(val), 1); /* the insertion half */
    gcrt_keep_alive(dst);
    gcrt_keep_alive(src);
}

static void test_aligned_copy(void) {
    check_copy(16);
}

static void test_odd_sized_copy(void) {
    check_copy(12); /* not a multiple of 8: the unaligned path */
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_aligned_copy);
    RUN(test_odd_sized_copy);
    return th_summary();
}
