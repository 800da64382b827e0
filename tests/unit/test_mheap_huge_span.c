/* test_mheap_huge_span.c - a span's page count is 32 bits (gcrt_span_t.npages):
 * with a reservation above 32 TiB (GCRT_HEAP_RESERVE=40TiB), a request of
 * just under 32 TiB made grow() round its commit up to 2^32 pages, which
 * truncated to 0 (or a merged run wrapped): the new memory was lost, the
 * page table's entry before it could be overwritten, and the allocation
 * stopped on "assertion failed: t" instead of gcrt_try_alloc returning NULL.
 * Runs in a child: the runtime reads GCRT_HEAP_RESERVE once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/child.h"
#include "gcrt.h"
#include "harness.h"
#include "mheap.h"

/* Pages of the free run that ends where committed memory ends, 0 if none. */
static uintptr_t last_free_run(void) {
    gcrt_mheap_t *h = &gcrt__mheap;
    gcrt_span_t *last = h->spans[((h->arena_used - h->arena_start) >> GCRT_PAGE_SHIFT) - 1];
    if (!last || last->state != GCRT_SPAN_FREE ||
        last->base + ((uintptr_t)last->npages << GCRT_PAGE_SHIFT) != h->arena_used)
        return 0;
    return last->npages;
}

static void child_huge(void *arg) {
    (void)arg;
    setenv("GCRT_HEAP_RESERVE", "40TiB", 1);
    if (gcrt_init() != 0) _exit(10);
    if (gcrt__mheap.arena_end - gcrt__mheap.arena_start < ((uintptr_t)33 << 40)) {
        fprintf(stderr, "skipped: no 40 TiB reservation\n");
        _exit(0);
    }
    char *small = gcrt_alloc(64);
    char *big = gcrt_alloc_noscan(40000); /* 5 pages off the end's free run */
    memset(small, 1, 64);
    memset(big, 2, 40000);
    /* 2^32 - 1 pages: grow() commits 2^32 - 1 - L pages rounded up to 4 MiB
     * (512 pages), which is 2^32 for a final free run of L <= 510 pages. */
    uintptr_t l = last_free_run();
    if (l > 510) {
        fprintf(stderr, "skipped: final free run of %zu pages\n", (size_t)l);
        _exit(0);
    }
    errno = 0;
    void *p = gcrt_try_alloc(((size_t)1 << 45) - GCRT_PAGE_SIZE, GCRT_NOSCAN);
    if (p != NULL) _exit(11);
    if (errno != ENOMEM) _exit(12);
    /* The runtime is still usable, and what was allocated is intact. */
    void *base;
    size_t size;
    if (!gcrt_find_object(small + 63, &base, &size) || base != small) _exit(13);
    if (!gcrt_find_object(big + 39999, &base, &size) || base != big) _exit(14);
    for (int i = 0; i < 64; i++)
        if (small[i] != 1) _exit(15);
    char *q = gcrt_try_alloc(1 << 20, 0);
    if (!q || q[0] != 0) _exit(16);
    gcrt_free(big);
    gcrt_free(q);
    fprintf(stderr, "ok\n");
    _exit(0);
}

static void test_huge_span(void) {
#ifdef GCRT_SANITIZER
    fprintf(stderr, "skipped: sanitizers and a 40 TiB reservation\n");
    return;
#endif
    struct child_result r;
    run_in_child(child_huge, NULL, &r);
    fprintf(stderr, "child: exited %d status %d signal %d: %s", r.exited, r.status, r.signaled,
            r.err);
    EXPECT_EQ(r.exited, 1);
    EXPECT_EQ(r.status, 0);
}

int main(void) {
    RUN(test_huge_span);
    return th_summary();
}
