/* test_pool_unscanned.c - a sync.Pool kept in malloc'd memory (never
 * freed) keeps its cached objects across a GC, like one in static storage
 * (gcrt_sync.h: "A pool is a GC root while it holds objects"; "a zeroed
 * pool ... is ready to use"). */
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "test_chan_util.h"

static GCRT_NOINLINE void fill_pool(gcrt_pool_t *p, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char *o = gcrt_alloc(40);
        memset(o, 0x40 + i, 40);
        gcrt_pool_put(p, o);
    }
}

static GCRT_NOINLINE void wipe(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void test_malloced_pool_keeps_objects(void) {
    gcrt_pool_t *p = calloc(1, sizeof *p); /* never freed: outlives the program */
    REQUIRE_TRUE(p != NULL);
    enum { N = 20 };
    fill_pool(p, N);
    wipe();
    gcrt_gc();
    /* The primary cache is the victim now: it must still be an object. */
    EXPECT_TRUE(gcrt_find_object(p->victim, NULL, NULL));
    for (int i = 0; i < 2000; i++) memset(gcrt_alloc(40), 0xEE, 40);
    int got = 0, bad = 0;
    unsigned char *o;
    while (got < 4 * N && (o = gcrt_pool_get(p)) != NULL) {
        got++;
        if (!gcrt_find_object(o, NULL, NULL) || o[0] < 0x40 || o[0] >= 0x40 + N || o[39] != o[0])
            bad++;
    }
    EXPECT_EQ(got, N);
    EXPECT_EQ(bad, 0);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_malloced_pool_keeps_objects);
    return th_summary();
}
