/* test_gc_shade_reuse.c - a marker descheduled inside gcrt__gc_shade while
 * the span it is looking at is freed (gcrt_free of its last object, the
 * stash handed to the page heap) and the span struct reused for another
 * size class, whose bitmap block is smaller: the mark bit, at the slot
 * index of the old layout, must not land in another span's bitmaps. Go
 * never frees a span during a mark; gcrt does (explicit frees, the stash
 * flush). The hook (assert level 2) runs the other thread's part at that
 * point of the shade, deterministically. GOGC=off (props.cmake). */
#include <stdio.h>
#include <string.h>

#include "gc.h"
#include "gcrt.h"
#include "harness.h"
#include "mcentral.h"
#include "mheap.h"

enum { NA = 4096, NV = 256 };
#if GCRT_ASSERT_LEVEL >= 2
static void *objs[NA];
static void *vict[NV];
static uintptr_t a_base;
/* 16 words from A's new mark word on: slot 899's word (14) of the old
 * layout is among them. */
static const uint64_t *window;
static uint64_t before[16];

/* The other thread's part: free every object of span A (class 1, 8-byte
 * objects, 1024 a span, 16-word bitmaps), hand the stash to the page heap,
 * and allocate 1024-byte objects (8 a span, 1-word bitmaps): their spans
 * reuse A's page and struct and take the bitmap blocks after A's new one. */
static void reuse(uintptr_t p) {
    (void)p;
    gcrt__shade_test_hook = NULL;
    for (int i = 0; i < NA; i++)
        if (((uintptr_t)objs[i] & ~(uintptr_t)8191) == a_base) {
            gcrt_free(objs[i]);
            objs[i] = NULL;
        }
    gcrt__mcentral_flush_stash(1);
    for (int i = 0; i < NV; i++) vict[i] = gcrt_alloc(1024);
    /* The bitmap words from A's new mark bits on: other spans' blocks. */
    gcrt_span_t *a = gcrt__span_of(&gcrt__mheap, a_base);
    window = a->gcmark_bits;
    memcpy(before, (const void *)window, sizeof before);
}

static void test_shade_of_a_reused_span(void) {
    for (int i = 0; i < NA; i++) objs[i] = gcrt_alloc(8);
    gcrt_thread_detach(); /* every span back to its mcentral */
    gcrt_thread_attach();
    /* A: a span all of whose 1024 slots are ours. */
    for (int i = 0; i < NA && !a_base; i++) {
        uintptr_t b = (uintptr_t)objs[i] & ~(uintptr_t)8191;
        int n = 0;
        for (int k = 0; k < NA; k++) n += ((uintptr_t)objs[k] & ~(uintptr_t)8191) == b;
        if (n == 1024) a_base = b;
    }
    REQUIRE_TRUE(a_base != 0);
    gcrt_gcwork_t w;
    memset(&w, 0, sizeof w);
    gcrt__gcwork_init(&w);
    gcrt__shade_test_hook = reuse;
    gcrt__gc_shade(&w, a_base + 899 * 8);        /* a stale pointer to A's slot 899 */
    REQUIRE_TRUE(gcrt__shade_test_hook == NULL); /* the hook ran */
    int reused = 0, bad = 0;
    for (int i = 0; i < NV; i++) {
        gcrt_span_t *s = gcrt__span_of(&gcrt__mheap, (uintptr_t)vict[i]);
        reused += ((uintptr_t)vict[i] & ~(uintptr_t)8191) == a_base;
        /* Allocated, none freed or marked: every bitmap word of theirs 0
         * but the allocation bits. */
        if (s->freed_bits[0] != 0 || s->gcmark_bits[0] != 0 ||
            !gcrt_find_object(vict[i], NULL, NULL))
            bad++;
    }
    EXPECT_GE(reused, 1); /* the set-up did what it meant to: A's page reused */
    EXPECT_EQ(bad, 0);
    /* Nothing but A's own mark word (word 0) may have changed. */
    int changed = 0;
    for (int i = 1; i < 16; i++) changed += window[i] != before[i];
    EXPECT_EQ(changed, 0);
    /* The work buffer may hold the shaded range: drop it. */
    while (w.cur && w.cur->n) w.cur->n--;
    gcrt__gcwork_dispose(&w);
}
#endif

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
#if GCRT_ASSERT_LEVEL >= 2
    RUN(test_shade_of_a_reused_span);
#else
    printf("skipped: the shade's test hook needs GCRT_ASSERT_LEVEL >= 2\n");
#endif
    return th_summary();
}
