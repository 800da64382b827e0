/* test_gc_stw_mode.c - GODEBUG=gcstoptheworld=1 and =2 make collections
 * safe for code that stores pointers without gcrt_store: the whole mark
 * (and with 2 the sweep) runs with the world stopped, so no store can
 * hide an object from it.
 *
 * A thread moves nodes between linked lists with plain stores as fast as
 * it can: it unlinks a node from one list (deleting the only pointer to it
 * without the barrier) and links it into another. Meanwhile the main
 * thread collects back to back. Under a concurrent mark such a move hides
 * the node whenever the second list was scanned before it and the first
 * after, and the sweep frees it while it is still linked; with the world
 * stopped for the mark, never. At the end every node must still be
 * allocated, with its contents intact, and all of them still linked. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/child.h"
#include "gcrt.h"
#include "harness.h"

enum { NLISTS = 64, NNODES = 100000, CYCLES = 60 };

struct node {
    struct node *next;
    uint64_t id, check;
    uint64_t pad[5]; /* 64 bytes */
};

static struct node *heads[NLISTS]; /* sentinels, allocated: the lists live in the heap */
static atomic_int stop_moving;
static atomic_long moves;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static __attribute__((noinline)) void build(void) {
    for (int i = 0; i < NLISTS; i++) heads[i] = gcrt_alloc(sizeof(struct node));
    for (uint64_t k = 0; k < NNODES; k++) {
        struct node *n = gcrt_alloc(sizeof *n);
        n->id = k;
        n->check = mix(k);
        struct node *h = heads[k % NLISTS];
        n->next = h->next;
        h->next = n;
    }
}

static void *mover(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    uint64_t r = 88172645463325252ull;
    long n = 0;
    while (!atomic_load_explicit(&stop_moving, memory_order_relaxed)) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        struct node *a = heads[r % NLISTS], *b = heads[(r >> 20) % NLISTS];
        /* Go a few nodes into a (so the node is not only next to a root). */
        for (unsigned s = (unsigned)(r >> 40) % 8; s && a->next && a->next->next; s--) a = a->next;
        struct node *x = a->next;
        if (!x || a == b) continue;
        *(struct node *volatile *)&a->next = x->next; /* no barrier: the delete */
        *(struct node *volatile *)&x->next = b->next;
        *(struct node *volatile *)&b->next = x;
        n++;
    }
    atomic_store(&moves, n);
    gcrt_thread_detach();
    return NULL;
}

static void child(void *arg) {
    setenv("GODEBUG", (const char *)arg, 1);
    if (gcrt_init() != 0) _exit(3);
    build();
    pthread_t t;
    pthread_create(&t, NULL, mover, NULL);
    for (int c = 0; c < CYCLES; c++) gcrt_gc();
    atomic_store(&stop_moving, 1);
    pthread_join(t, NULL);
    gcrt_gc();
    long count = 0, bad = 0;
    for (int i = 0; i < NLISTS; i++)
        for (struct node *n = heads[i]->next; n && count <= NNODES; n = n->next) {
            void *base;
            if (!gcrt_find_object(n, &base, NULL) || base != n || n->check != mix(n->id)) bad++;
            count++;
        }
    fprintf(stderr, "%s: %ld moves, %ld nodes linked, %ld freed or corrupted\n", (const char *)arg,
            (long)atomic_load(&moves), count, bad);
    _exit(count == NNODES && bad == 0 ? 0 : 4);
}

static void run_mode(const char *godebug) {
    struct child_result r;
    run_in_child(child, (void *)godebug, &r);
    fprintf(stderr, "%s", r.err);
    if (!r.exited || r.status != 0)
        FAILF("%s: exited %d status %d signal %d", godebug, r.exited, r.status, r.signaled);
}

static void test_stop_the_world_mark(void) {
    run_mode("gcstoptheworld=1");
}

static void test_stop_the_world_mark_and_sweep(void) {
    run_mode("gcstoptheworld=2");
}

int main(void) {
    RUN(test_stop_the_world_mark);
    RUN(test_stop_the_world_mark_and_sweep);
    return th_summary();
}
