/* test_alloc_doc_claims.c - what README's "Sizes and alignment" and the
 * header promise about alignment and gcrt_usable_size, checked:
 *  - objects are aligned to the largest power of two dividing their class
 *    size, but at most to a page (8 KiB): spans start at any page, so the
 *    16 KiB and 32 KiB classes are not 16/32 KiB aligned;
 *  - a tiny object (pointer-free, under 16 bytes) is aligned by its size
 *    (Go's tiny allocator: 8, 4, 2 or 1), and gcrt_find_object /
 *    gcrt_usable_size report the whole 16-byte block it shares with other
 *    tiny objects: that size is not room the object may use. */
#include <stdint.h>
#include <string.h>

#include "gcrt.h"
#include "harness.h"
#include "sizeclasses.h"

static size_t pow2_align(size_t n) {
    size_t a = 1;
    while (n % (a * 2) == 0) a *= 2;
    return a;
}

static void test_class_alignment(void) {
    for (unsigned sc = 1; sc < GCRT_NUM_SIZE_CLASSES; sc++) {
        size_t size = gcrt__class_to_size[sc], want = pow2_align(size);
        if (want > 8192) want = 8192; /* at most a page */
        for (int i = 0; i < 4; i++) {
            char *p = gcrt_alloc(size);
            EXPECT_EQ((uintptr_t)p % want, 0);
        }
    }
    /* (Whether a 16 or 32 KiB object is also 16/32 KiB aligned depends on
     * where its span lands: it may be, or not.) */
}

static void test_tiny_usable_size_is_the_block(void) {
    gcrt_thread_attach();
    /* A fresh block: fill the current one first. */
    char *a, *b, *c;
    do {
        a = gcrt_alloc_noscan(8);
        b = gcrt_alloc_noscan(8);
    } while (b != a + 8);
    c = gcrt_alloc_noscan(8);
    void *base;
    size_t size;
    REQUIRE_TRUE(gcrt_find_object(b, &base, &size));
    EXPECT_PTR_EQ(base, a); /* the block, not b */
    EXPECT_EQ(size, 16);
    EXPECT_EQ(gcrt_usable_size(b), 16); /* 8 of them are a's, or past b's block */
    EXPECT_EQ((uintptr_t)gcrt_alloc_noscan(12) % 4, 0);
    (void)c;
    gcrt_thread_detach();
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_class_alignment);
    RUN(test_tiny_usable_size_is_the_block);
    return th_summary();
}
