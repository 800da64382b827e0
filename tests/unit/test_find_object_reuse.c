/* test_find_object_reuse.c - gcrt_find_object (safe from any thread, with
 * no lock) looking at a span whose struct is freed and reused for another
 * size class meanwhile: the answer must be one layout's, never the slot
 * index of the old layout applied to the new one (a base and size that do
 * not contain the address), and the bitmaps it reads must be the block it
 * bounds them by (an index of a 1024-slot layout read in a 1-word block
 * reads other spans' bitmaps). Like test_gc_shade_reuse, a hook (assert
 * level 2) runs the other thread's part inside the lookup,
 * deterministically; a second case churns spans of several classes while
 * another thread looks up addresses in them (TSan run too). GOGC=off
 * (props.cmake). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gcrt.h"
#include "harness.h"
#include "malloc.h"
#include "mcentral.h"
#include "mheap.h"

enum { NOBJ = 8192, NREUSE = 65536 };
#if GCRT_ASSERT_LEVEL >= 2
static void *objs[NOBJ];
static void *reuse_objs[NREUSE];
static uintptr_t a_base;
static size_t a_size, reuse_size;
static int reused;

static uintptr_t page_of(const void *p) {
    return (uintptr_t)p & ~(uintptr_t)(GCRT_PAGE_SIZE - 1);
}

/* The other thread's part: free every object of span A, hand the stash to
 * the page heap, and allocate reuse_size objects until one of their spans
 * takes A's page (and, the heap's span structs being reused last in,
 * first out, A's struct), then fill A. */
static void reuse(uintptr_t p) {
    (void)p;
    gcrt__find_object_test_hook = NULL;
    for (int i = 0; i < NOBJ; i++)
        if (objs[i] && page_of(objs[i]) == a_base) {
            gcrt_free(objs[i]);
            objs[i] = NULL;
        }
    gcrt__mcentral_flush_stash(1);
    int i = 0;
    for (; i < NREUSE && !reused; i++) {
        reuse_objs[i] = gcrt_alloc(reuse_size);
        reused = page_of(reuse_objs[i]) == a_base;
    }
    /* The rest of A's new slots: A is this thread's cached span now. */
    for (size_t k = 1; k < GCRT_PAGE_SIZE / reuse_size && i < NREUSE; k++, i++)
        reuse_objs[i] = gcrt_alloc(reuse_size);
}

/* A span of size-byte objects all of whose slots are ours. */
static uintptr_t own_span(size_t size) {
    memset(objs, 0, sizeof objs);
    memset(reuse_objs, 0, sizeof reuse_objs);
    uintptr_t found = 0;
    for (int i = 0; i < NOBJ; i++) objs[i] = gcrt_alloc(size);
    gcrt_thread_detach(); /* every span back to its mcentral */
    gcrt_thread_attach();
    size_t per = GCRT_PAGE_SIZE / size;
    for (int i = 0; i < NOBJ && !found; i++) {
        uintptr_t b = page_of(objs[i]);
        size_t n = 0;
        for (int k = 0; k < NOBJ; k++) n += page_of(objs[k]) == b;
        if (n == per) found = b;
    }
    return found;
}

/* Looks up p while span A (size-byte objects) becomes a span of
 * new_size-byte ones; the answer must be one of a layout's. */
static void lookup_across_reuse(size_t size, size_t new_size, uintptr_t off) {
    a_size = size;
    reuse_size = new_size;
    reused = 0;
    a_base = own_span(size);
    REQUIRE_TRUE(a_base != 0);
    uintptr_t p = a_base + off;
    void *b = NULL;
    size_t n = 0;
    gcrt__find_object_test_hook = reuse;
    bool found = gcrt_find_object((void *)p, &b, &n);
    REQUIRE_TRUE(gcrt__find_object_test_hook == NULL); /* the hook ran */
    EXPECT_TRUE(reused); /* the set-up did what it meant to: A's page reused */
    if (found) {
        /* One layout's answer: a slot that holds p, of that layout's size. */
        EXPECT_TRUE((uintptr_t)b <= p);
        EXPECT_GT((uintptr_t)b + n, p);
        EXPECT_TRUE(n == size || n == new_size);
        if ((uintptr_t)b > p || (uintptr_t)b + n <= p)
            fprintf(stderr, "    p = base+%zu, answer base+%td size %zu\n", (size_t)off,
                    (ptrdiff_t)((uintptr_t)b - a_base), n);
    }
    /* Now, with nothing moving: the new layout's answer. */
    EXPECT_TRUE(gcrt_find_object((void *)p, &b, &n));
    EXPECT_EQ(n, new_size);
    for (int i = 0; i < NOBJ; i++)
        if (objs[i]) gcrt_free(objs[i]);
    for (int i = 0; i < NREUSE; i++)
        if (reuse_objs[i]) gcrt_free(reuse_objs[i]);
}

/* 1024-byte objects (8 a span) become 8-byte ones (1024 a span): slot 5
 * of the old layout read as slot 5 of the new one answered base+40, size
 * 8, for an address at base+5128. */
static void test_big_slots_become_small(void) {
    lookup_across_reuse(1024, 8, 5 * 1024 + 8);
}

/* 8-byte objects become 1024-byte ones: slot 899's bits are word 14 of a
 * 16-word bitmap; the new block has one word a bitmap. */
static void test_small_slots_become_big(void) {
    lookup_across_reuse(8, 1024, 899 * 8);
}
#endif

/* ---- churn: spans of several classes freed and reused while another
 * thread looks up addresses in them. ------------------------------------- */

enum { NCHURN = 2, NSLOT = 512 };
static void *slots[NCHURN][NSLOT]; /* atomic */
static int stop_churn;             /* atomic */
static const size_t churn_sizes[] = {8, 48, 256, 1024, 4096, 40000};

static void *churn_thread(void *arg) {
    int t = (int)(intptr_t)arg;
    gcrt_thread_attach();
    unsigned r = 12345u + (unsigned)t;
    size_t k = 0;
    while (!__atomic_load_n(&stop_churn, __ATOMIC_RELAXED)) {
        r = r * 1103515245u + 12345u;
        size_t i = (r >> 8) % NSLOT;
        void *old = __atomic_exchange_n(&slots[t][i], NULL, __ATOMIC_RELAXED);
        if (old) gcrt_free(old);
        void *p = gcrt_alloc(churn_sizes[k++ % (sizeof churn_sizes / sizeof *churn_sizes)]);
        __atomic_store_n(&slots[t][i], p, __ATOMIC_RELAXED);
        if ((k & 4095) == 0) gcrt__mcentral_flush_stash(1); /* spans back to the heap */
    }
    for (int i = 0; i < NSLOT; i++) {
        void *old = __atomic_exchange_n(&slots[t][i], NULL, __ATOMIC_RELAXED);
        if (old) gcrt_free(old);
    }
    gcrt_thread_detach();
    return NULL;
}

static int valid_size(size_t n) {
    if (n > GCRT_MAX_SMALL_SIZE) return n % GCRT_PAGE_SIZE == 0;
    for (int c = 1; c < GCRT_NUM_SIZE_CLASSES; c++)
        if (gcrt__class_to_size[c] == n) return 1;
    return 0;
}

static void test_lookups_during_churn(void) {
    pthread_t th[NCHURN];
    __atomic_store_n(&stop_churn, 0, __ATOMIC_RELAXED);
    for (int t = 0; t < NCHURN; t++)
        pthread_create(&th[t], NULL, churn_thread, (void *)(intptr_t)t);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long lookups = 0, found = 0, bad = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) > 1500000000L)
            break;
        for (int t = 0; t < NCHURN; t++)
            for (int i = 0; i < NSLOT; i++) {
                uintptr_t p = (uintptr_t)__atomic_load_n(&slots[t][i], __ATOMIC_RELAXED);
                if (!p) continue;
                p += (uintptr_t)(lookups % 8) * 8 + 1; /* interior pointers too */
                void *b;
                size_t n;
                lookups++;
                if (!gcrt_find_object((void *)p, &b, &n)) continue;
                found++;
                if ((uintptr_t)b > p || (uintptr_t)b + n <= p || !valid_size(n)) bad++;
            }
    }
    __atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
    for (int t = 0; t < NCHURN; t++) pthread_join(th[t], NULL);
    printf("  %ld lookups, %ld found, %ld inconsistent\n", lookups, found, bad);
    EXPECT_GT(found, 0);
    EXPECT_EQ(bad, 0);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
#if GCRT_ASSERT_LEVEL >= 2
    RUN(test_big_slots_become_small);
    RUN(test_small_slots_become_big);
#else
    printf("skipped: the lookup's test hook needs GCRT_ASSERT_LEVEL >= 2\n");
#endif
    RUN(test_lookups_during_churn);
    return th_summary();
}
