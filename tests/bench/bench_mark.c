/* bench_mark.c - the marker's speed: builds one shape, then runs forced
 * cycles (gcrt_gc) and lets GODEBUG=gctrace=1 report each (run-mark.sh
 * reads the lines, beside go/mark's). With tree and list nothing allocates
 * while they mark: the mark clock and CPU are the marker's own; churn
 * marks beside a program that changes the graph.
 *
 *   bench_mark tree  DEPTH   CYCLES   a binary tree of 16-byte nodes
 *   bench_mark list  N       CYCLES   N 64-byte objects linked in random
 *                                     order (one pointer each: a chain, a
 *                                     cache miss per object)
 *   bench_mark churn N       CYCLES   N 64-byte objects in 65536 lists
 *                                     (bigheap's live heap), while another
 *                                     thread churns: 64-byte objects, every
 *                                     eighth replacing a random list's head
 *                                     through the write barrier (bigheap's
 *                                     churn). The barrier's shades make the
 *                                     marker visit the lists in random order.
 *
 * The list is built with the collector off and its index in malloc's
 * memory, freed before the cycles: nothing but the chain is left to mark
 * (an index in the heap, reachable from a stale stack word, would hand the
 * marker every object at once). */
#include <gcrt.h>
#include <gcrt_sched.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    struct node *l, *r;
} node;

typedef struct item {
    struct item *next;
    uintptr_t pad[7];
} item;

static node *volatile tree_root;
static item *volatile list_root;

static node *tree(int d) {
    node *n = gcrt_alloc(sizeof *n);
    if (d > 0) {
        gcrt_store((void **)&n->l, tree(d - 1));
        gcrt_store((void **)&n->r, tree(d - 1));
    }
    return n;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) { /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static item *list(long n) {
    int old = gcrt_set_gc_percent(-1);
    item **v = malloc((size_t)n * sizeof *v);
    if (!v) {
        fprintf(stderr, "bench_mark: out of memory for the index\n");
        exit(1);
    }
    for (long i = 0; i < n; i++) v[i] = gcrt_alloc(sizeof(item));
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(next_rand() % (uint64_t)(i + 1));
        item *t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    for (long i = 0; i + 1 < n; i++) gcrt_store((void **)&v[i]->next, v[i + 1]);
    item *first = v[0];
    free(v);
    gcrt_set_gc_percent(old);
    return first;
}

enum { NLISTS = 65536 };
static item **heads;
static volatile int churn_stop;
static volatile uint64_t sink;

static void lists(long n) {
    heads = gcrt_alloc(NLISTS * sizeof *heads);
    for (long i = 0; i < n; i++) {
        long l = i % NLISTS;
        item *x = gcrt_alloc(sizeof *x);
        gcrt_store((void **)&x->next, heads[l]);
        gcrt_store((void **)&heads[l], x);
    }
}

static void *churner(void *arg) {
    (void)arg;
    if (gcrt_thread_attach() != 0) return NULL;
    uint64_t r = 42;
    while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        item *x = gcrt_alloc(sizeof *x);
        if ((r & 7) == 0) {
            item **h = &heads[(r >> 3) % NLISTS], *old = *h;
            gcrt_store((void **)&x->next, old ? old->next : NULL);
            gcrt_store((void **)h, x);
        } else {
            x->pad[0] = (uintptr_t)r;
            sink = x->pad[0];
        }
    }
    gcrt_thread_detach();
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "tree") != 0 && strcmp(argv[1], "list") != 0 &&
                      strcmp(argv[1], "churn") != 0)) {
        fprintf(stderr, "usage: bench_mark tree DEPTH CYCLES | list N CYCLES | churn N CYCLES\n");
        return 2;
    }
    long size = atol(argv[2]);
    int cycles = atoi(argv[3]);
    if (size <= 0 || cycles <= 0 || (argv[1][0] == 't' && size > 26)) {
        fprintf(stderr, "bench_mark: bad size or cycle count\n");
        return 2;
    }
    pthread_t t;
    if (argv[1][0] == 't') {
        tree_root = tree((int)size);
    } else if (argv[1][0] == 'l') {
        list_root = list(size);
    } else {
        lists(size);
        gcrt_gc();
        if (pthread_create(&t, NULL, churner, NULL) != 0) return 1;
    }
    gcrt_gc(); /* the build's garbage */
    for (int i = 0; i < cycles; i++) gcrt_gc();
    if (argv[1][0] == 'c') {
        __atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
        gcrt_pthread_join(t, NULL); /* a blocking call: stops need not signal us */
    }
    return 0;
}
