/* test_memstats_consistent.c - a MemStats read never counts a free without
 * the allocation it frees (Go's ReadMemStats stops the world, so its
 * counts are consistent): while another thread allocates and frees,
 * Frees <= Mallocs (HeapObjects = Mallocs - Frees would wrap to ~2^64)
 * and HeapAlloc <= TotalAlloc (HeapAlloc = TotalAlloc - freed would wrap). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "gcrt.h"
#include "harness.h"

static int stop; /* atomic */

static void *churner(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        void *p = gcrt_alloc(64);
        gcrt_free(p);
        void *q = gcrt_alloc(40 << 10); /* a large object */
        gcrt_free(q);
    }
    gcrt_thread_detach();
    return NULL;
}

static void test_read_is_consistent(void) {
    gcrt_set_gc_percent(-1);
    pthread_t t;
    pthread_create(&t, NULL, churner, NULL);
    int bad = 0, reads = 0;
    struct gcrt_memstats ms;
    for (; reads < 20000 && bad == 0; reads++) {
        gcrt_read_memstats(&ms);
        if (ms.frees > ms.mallocs || ms.heap_alloc > ms.total_alloc) bad++;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    fprintf(stderr,
            "%d reads; last: Mallocs %llu Frees %llu HeapObjects %llu HeapAlloc %llu "
            "HeapInuse %llu\n",
            reads, (unsigned long long)ms.mallocs, (unsigned long long)ms.frees,
            (unsigned long long)ms.heap_objects, (unsigned long long)ms.heap_alloc,
            (unsigned long long)ms.heap_inuse);
    EXPECT_EQ(bad, 0);
}

int main(void) {
    gcrt_init();
    RUN(test_read_is_consistent);
    return th_summary();
}
