/* test_gc_regress.c - minimal single-threaded reproductions of objects
 * freed while reachable (found by test_gc_graph):
 *   1. a large allocation whose own heap accounting starts a cycle comes
 *      back already freed (gcrt_find_object says it is not an object);
 *   2. a linked list built with gcrt_store while heap-triggered concurrent
 *      cycles run loses nodes (the list turns into a cycle or a node reads
 *      back another's contents).
 * Both use only the documented API from one attached thread. */
#include <string.h>

#include "gcrt.h"
#include "harness.h"

static void *volatile ring[64]; /* keeps the last allocations (written only) */

static void test_large_alloc_not_freed_by_the_cycle_it_starts(void) {
    long bad = 0, n = th_env_long("GCRT_REGRESS_LARGE", 50000);
    for (long i = 0; i < n; i++) {
        size_t sz = 40000 + (size_t)(i % 7) * 8192;
        char *p = gcrt_alloc(sz);
        void *base = NULL;
        if (!gcrt_find_object(p, &base, NULL) || base != p) {
            struct gcrt_memstats ms;
            gcrt_read_memstats(&ms);
            if (bad++ < 3)
                fprintf(stderr, "alloc %ld: gcrt_alloc(%zu) = %p is not an object (NumGC %u)\n", i,
                        sz, (void *)p, ms.num_gc);
        }
        memset(p, 1, 64);
        ring[i % 64] = p;
    }
    EXPECT_EQ(bad, 0);
}

struct node {
    struct node *next;
    uint64_t id, check;
};

static struct node *head;

static uint64_t ck(uint64_t id) {
    return id * 0x9E3779B97F4A7C15ull ^ 0xABCDEFull;
}

static __attribute__((noinline)) void build(long n) {
    struct node *h = NULL;
    for (long i = 1; i <= n; i++) {
        struct node *x = gcrt_alloc(sizeof *x);
        x->id = (uint64_t)i;
        x->check = ck((uint64_t)i);
        gcrt_store(&x->next, h);
        h = x;
    }
    head = h;
}

static void test_list_built_during_concurrent_cycles(void) {
    long n = th_env_long("GCRT_REGRESS_LIST", 1000000);
    for (int round = 0; round < 3; round++) {
        build(n);
        gcrt_gc();
        long k = n, bad = 0;
        for (const struct node *p = head; p && bad == 0; p = p->next, k--) {
            if (p->id != (uint64_t)k || p->check != ck((uint64_t)k)) {
                fprintf(stderr,
                        "round %d: node %ld of %ld reads id %llu (a freed and reused node)\n",
                        round, n - k, n, (unsigned long long)p->id);
                bad = 1;
            }
        }
        if (!bad && k != 0) {
            fprintf(stderr, "round %d: list ends early (%ld nodes missing)\n", round, k);
            bad = 1;
        }
        EXPECT_EQ(bad, 0);
        head = NULL;
    }
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_large_alloc_not_freed_by_the_cycle_it_starts);
    RUN(test_list_built_during_concurrent_cycles);
    return th_summary();
}
