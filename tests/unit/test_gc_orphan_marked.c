/* test_gc_orphan_marked.c - an object the write barrier marks on a thread
 * with no P (its shades go to the shared orphan buffer, mbarrier.c) counts
 * in heap_marked, the basis of the next heap goal, like an object any
 * other shade marks first.
 *
 * Deterministic: the shade's test hook (assert level 2) stops the first
 * shade of the object, before it sets the mark bit, until a thread that
 * is not attached has run gcrt_write_barrier on it; the collector's own
 * shade then finds the bit set and counts nothing. */
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>

#include "gc.h"
#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "pacer.h"

#define BIG ((size_t)32 << 20)

static void *volatile big; /* a global: a root */

#if GCRT_ASSERT_LEVEL >= 2
static sem_t go, done;
static uint32_t hooked;

static void *orphan_thread(void *arg) {
    (void)arg;
    sem_wait(&go);
    /* Not attached: no P, so the shared orphan buffer. */
    gcrt_write_barrier(NULL, big);
    sem_post(&done);
    return NULL;
}

static void hook(uintptr_t p) {
    if (p != (uintptr_t)big || __atomic_exchange_n(&hooked, 1u, __ATOMIC_ACQ_REL)) return;
    sem_post(&go);
    sem_wait(&done);
}

static void test_orphan_shade_counts_in_heap_marked(void) {
    int percent = gcrt_set_gc_percent(-1); /* only the collection below */
    big = gcrt_alloc_noscan(BIG);
    sem_init(&go, 0, 0);
    sem_init(&done, 0, 0);
    pthread_t t;
    REQUIRE_EQ(pthread_create(&t, NULL, orphan_thread, NULL), 0);
    gcrt__shade_test_hook = hook;
    gcrt_gc();
    gcrt__shade_test_hook = NULL;
    REQUIRE_EQ(__atomic_load_n(&hooked, __ATOMIC_ACQUIRE), 1); /* the orphan shaded it first */
    gcrt_pthread_join(t, NULL);
    struct gcrt_pacer pc;
    gcrt__gc_pacer_state(&pc);
    printf("live %zu MiB, heap_marked %llu MiB\n", BIG >> 20,
           (unsigned long long)(pc.heap_marked >> 20));
    EXPECT_UGE(pc.heap_marked, BIG);
    gcrt_keep_alive(big);
    gcrt_set_gc_percent(percent);
}
#endif

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
#if GCRT_ASSERT_LEVEL >= 2
    RUN(test_orphan_shade_counts_in_heap_marked);
#else
    printf("skipped: the shade's test hook needs GCRT_ASSERT_LEVEL >= 2\n");
#endif
    return th_summary();
}
