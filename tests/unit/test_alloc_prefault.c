/* test_alloc_prefault.c - a new small-object span's fresh pages are written
 * once when the span is taken from the page heap (mcentral.c: prefault),
 * so that the program's first access to a new object, often a read
 * (gcrt_store loads the old value before it stores), does not map the
 * kernel's zero page first and fault a second time for the write.
 *
 * Counts this thread's minor page faults (getrusage) over 16 MiB of new
 * 64-byte objects, each first read through gcrt_store, with the collector
 * off: about one fault per 4 KiB page (the span's prefault, plus a little
 * metadata), not two. With transparent huge pages set to "always" the
 * heap may fault a 2 MiB page at a time, and both counts are far lower. */
#include <stdio.h>
#include <sys/resource.h>

#include "gcrt.h"
#include "harness.h"

static long minflt(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_minflt;
}

struct obj {
    struct obj *next;
    uint64_t pad[7];
};

static void test_one_fault_per_page(void) {
    enum { BYTES = 16 << 20, N = BYTES / sizeof(struct obj) };
    struct obj *prev = NULL;
    long f0 = minflt();
    for (long i = 0; i < N; i++) {
        struct obj *o = gcrt_alloc(sizeof *o);
        REQUIRE_TRUE(o != NULL);
        gcrt_store(&o->next, prev); /* reads o->next first */
        prev = o;
    }
    long faults = minflt() - f0;
    long pages = BYTES / 4096;
    fprintf(stderr, "  %ld minor faults for %ld pages of new objects\n", faults, pages);
    EXPECT_LT(faults, pages * 3 / 2);
    gcrt_keep_alive(prev);
}

int main(void) {
    gcrt_init();
    gcrt_set_gc_percent(-1); /* no collection: every object is new memory */
    RUN(test_one_fault_per_page);
    return th_summary();
}
