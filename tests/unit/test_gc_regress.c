/* test_gc_regress.c - minimal single-threaded reproductions of objects
 * freed while reachable (found by test_gc_graph):
 *   1. a large allocation whose own heap accounting starts a cycle comes
 *      back already freed (gcrt_find_object says it is not an object);
 *   2. a linked list built with gcrt_store while heap-triggered concurrent
 *      cycles run loses nodes (the list turns into a cycle or a node reads
 *      back another's contents);
 *   3. gcrt_free of a node the mark has queued but not yet scanned: the
 *      slot was reused (and zeroed) before the collector read the node's
 *      next pointer, so the rest of the list, reachable only from a
 *      scanned stack, was swept while in use and the next gcrt_free threw
 *      "not an allocated object".
 * All use only the documented API from one attached thread. */
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

struct fnode {
    struct fnode *next;
    char *payload;
    uint64_t id, check;
};

/* Builds a batch, then walks it keeping one node in 16 (linked onto *keep
 * with gcrt_store) and freeing the others with their payloads, like a
 * service dropping most of what a request allocated. */
static __attribute__((noinline)) long churn_round(struct fnode **keep, uint64_t *next_id,
                                                  unsigned *seed) {
    struct fnode *batch = NULL;
    for (int i = 0; i < 20000; i++) {
        struct fnode *n = gcrt_alloc(sizeof *n);
        size_t len = 8 + rand_r(seed) % 500;
        n->id = (*next_id)++;
        n->check = ck(n->id);
        gcrt_store(&n->payload, gcrt_alloc_noscan(len));
        memset(n->payload, 'x', len);
        gcrt_store(&n->next, batch);
        batch = n;
    }
    long bad = 0, k = 0;
    while (batch) {
        struct fnode *n = batch;
        if (n->check != ck(n->id)) bad++;
        batch = n->next;
        if (k++ % 16 == 0) {
            gcrt_store(&n->next, *keep);
            *keep = n;
        } else {
            gcrt_free(n->payload);
            gcrt_free(n);
        }
    }
    return bad;
}

static void test_free_during_concurrent_mark(void) {
    long rounds = th_env_long("GCRT_REGRESS_FREE_ROUNDS", 60);
    struct fnode *keep = NULL;
    uint64_t next_id = 1;
    unsigned seed = 42;
    long bad = 0;
    struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    uint32_t gc0 = ms.num_gc;
    /* Frees keep the heap small: a low GOGC makes cycles frequent. */
    int old_percent = gcrt_set_gc_percent(5);
    for (long r = 0; r < rounds; r++) bad += churn_round(&keep, &next_id, &seed);
    /* Bounded: a freed and reused node can close the list into a cycle. */
    long kept = 0;
    for (const struct fnode *n = keep; n && kept <= rounds * 1250; n = n->next, kept++)
        if (n->check != ck(n->id) || n->payload[0] != 'x') bad++;
    gcrt_read_memstats(&ms);
    gcrt_set_gc_percent(old_percent);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(kept, rounds * 1250);
    /* The test means something only if cycles ran while it freed. */
    EXPECT_GT(ms.num_gc - gc0, 3);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_large_alloc_not_freed_by_the_cycle_it_starts);
    RUN(test_list_built_during_concurrent_cycles);
    RUN(test_free_during_concurrent_mark);
    return th_summary();
}
