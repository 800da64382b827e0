/* bigheap.c - a large live heap under churn (issue 4's "at scale" benchmark).
 *
 *   bigheap [LIVE_MIB] [CHURN_X]      defaults: 1024 MiB live, churn 4x
 *
 * Written against the peers kit's backend API (../shared/bench/peers/c/
 * backend.h), so the same source builds for gcrt (tests/bench/gcrt_shim.h
 * in collector mode), bdwgc and the mallocs; go/bigheap/main.go does the
 * same work in Go (same RNG, same steps). run-bigheap.sh runs them.
 *
 * The live heap is LIVE_MIB of 64-byte nodes in 65536 singly linked lists
 * (the list heads are one large pointer array). Then the churn phase makes
 * CHURN_X * LIVE_MIB of new nodes: seven of every eight are garbage at
 * once (dropped), the eighth replaces the head of a random list (the old
 * head becomes garbage, so the live size stays put and the graph changes
 * under the collector through BK_STORE, the write barrier). Every churn
 * allocation is timed (clock_gettime before and after, the same overhead
 * as Go's time.Now in the twin): the slowest one is the longest time any
 * allocation waited (assists, sweeping, page faults included).
 *
 * Prints one STATS line: live bytes, build and churn times, max/p99.99
 * allocation wait, and the backend's GC figures (bk_stats: gcs, pause_max_ms
 * = the longest stop-the-world of a cycle for gcrt/Go, the collection for
 * bdwgc). Peak RSS comes from getrusage. */
#include "backend.h"

#include <sys/resource.h>

typedef struct node {
    struct node *next;
    uint64_t payload[7]; /* 64 bytes in all */
} node_t;

#define NLISTS 65536

static node_t *new_node(node_t *next, uint64_t v) {
    node_t *n = (node_t *)bk_alloc(sizeof(node_t));
    BK_STORE(n->next, next);
    for (int i = 0; i < 7; i++) n->payload[i] = v + (uint64_t)i;
    return n;
}

static volatile uint64_t sink;

int main(int argc, char **argv) {
    bk_init();
    long live_mib = argc > 1 ? atol(argv[1]) : 1024;
    long churn_x = argc > 2 ? atol(argv[2]) : 4;
    if (live_mib < 4 || churn_x <= 0) { /* >= 4 MiB: every list has a node */
        fprintf(stderr, "usage: bigheap [LIVE_MIB >= 4] [CHURN_X > 0]\n");
        return 2;
    }
    long nlive = live_mib * 1048576L / (long)sizeof(node_t);
    long nchurn = churn_x * nlive;
    rng_t rng;
    rng_seed(&rng, 42);

    uint64_t t0 = now_ns();
    node_t **heads = (node_t **)bk_alloc(NLISTS * sizeof(node_t *));
    for (long i = 0; i < NLISTS; i++) BK_STORE(heads[i], NULL);
    for (long i = 0; i < nlive; i++) {
        long l = i % NLISTS;
        BK_STORE(heads[l], new_node(heads[l], (uint64_t)i));
    }
    uint64_t t1 = now_ns();

    static hist_t wait; /* ns per churn allocation */
    for (long i = 0; i < nchurn; i++) {
        uint64_t r = rng_next(&rng);
        uint64_t a = now_ns();
        node_t *n = (node_t *)bk_alloc(sizeof(node_t));
        uint64_t b = now_ns();
        hist_add(&wait, b - a);
        if ((r & 7) == 0) { /* replace the head of a random list */
            long l = (long)((r >> 3) % NLISTS);
            node_t *old = heads[l];
            BK_STORE(n->next, old ? old->next : NULL);
            for (int k = 0; k < 7; k++) n->payload[k] = r + (uint64_t)k;
            BK_STORE(heads[l], n);
            bk_free(old);
        } else { /* garbage at once */
            BK_STORE(n->next, NULL);
            n->payload[0] = r;
            sink = n->payload[0];
            bk_free(n);
        }
    }
    uint64_t t2 = now_ns();

    /* Check the live structure is intact: every list is still there with
     * its length (each list keeps the number of nodes it was built with). */
    long count = 0;
    for (long l = 0; l < NLISTS; l++)
        for (node_t *n = heads[l]; n; n = n->next) count++;
    if (count != nlive) {
        fprintf(stderr, "bigheap: %ld live nodes, want %ld\n", count, nlive);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double live_b = (double)nlive * (double)sizeof(node_t) + NLISTS * sizeof(node_t *);
    printf("STATS workload=bigheap runtime=%s live_mib=%.1f churn_allocs=%ld build_ms=%.1f "
           "churn_ms=%.1f alloc_wait_max_ms=%.3f alloc_wait_p9999_us=%.1f alloc_wait_mean_ns=%.1f "
           "maxrss_mib=%.1f rss_over_live=%.2f",
           BK_NAME, live_b / 1048576.0, nchurn, (t1 - t0) / 1e6, (t2 - t1) / 1e6, wait.max / 1e6,
           hist_quantile(&wait, 0.9999) / 1e3, (double)wait.sum / (double)wait.n,
           ru.ru_maxrss / 1024.0, ru.ru_maxrss * 1024.0 / live_b);
    bk_stats(stdout);
    printf("\n");
    return 0;
}
