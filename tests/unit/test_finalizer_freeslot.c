/* test_finalizer_freeslot.c - gcrt_set_finalizer on the address of a free
 * slot (an object already freed, or one never allocated) is -EINVAL
 * ("obj is not the start of a heap object"), like gcrt_find_object's
 * answer: a record accepted there would belong to whatever object is
 * allocated at that address later. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gcrt.h"
#include "harness.h"

static void fin(void *obj, void *arg) {
    (void)obj, (void)arg;
}

static void test_freed_object(void) {
    void *keep = gcrt_alloc(64); /* the span stays in use */
    void *o = gcrt_alloc(64);
    gcrt_free(o);
    EXPECT_FALSE(gcrt_find_object(o, NULL, NULL));
    EXPECT_EQ(gcrt_set_finalizer(o, fin, NULL), -EINVAL);
    /* A new object that reuses the slot has no finalizer. */
    void *n = NULL;
    for (int i = 0; i < 100000 && n != o; i++) {
        if (i % 1000 == 0) gcrt_gc();
        n = gcrt_alloc(64);
    }
    if (n == o) {
        EXPECT_EQ(gcrt_set_finalizer(n, NULL, NULL), -ENOENT); /* none set on it */
    } else {
        fprintf(stderr, "slot not reused; skipped the reuse check\n");
    }
    gcrt_keep_alive(keep);
}

static void test_never_allocated(void) {
    char *o = gcrt_alloc(64);
    /* o + 64 is the next slot of the span; free (never allocated) unless
     * o is the span's last slot. */
    if (!gcrt_find_object(o + 64, NULL, NULL) && gcrt_usable_size(o) == 64) {
        int rc = gcrt_set_finalizer(o + 64, fin, NULL);
        EXPECT_TRUE(rc == -EINVAL);
    }
    gcrt_keep_alive(o);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_freed_object);
    RUN(test_never_allocated);
    return th_summary();
}
