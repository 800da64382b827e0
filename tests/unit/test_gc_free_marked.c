/* test_gc_free_marked.c - objects allocated (black) or marked during a
 * mark and freed with gcrt_free before it ends do not count in
 * heap_marked, the basis of the next heap goal. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>

#include "gc.h"
#include "gcrt.h"
#include "harness.h"
#include "malloc.h"
#include "pacer.h"

struct node {
    struct node *next;
    uint64_t pad[7];
};
static struct node *volatile live_list;

static __attribute__((noinline)) void build_live(size_t n) {
    struct node *h = NULL;
    for (size_t i = 0; i < n; i++) {
        struct node *x = gcrt_alloc(sizeof *x);
        gcrt_store(&x->next, h);
        h = x;
    }
    live_list = h;
}

static void *run_gc(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    gcrt_gc();
    gcrt_thread_detach();
    return NULL;
}

static void test_marked_excludes_objects_freed_during_mark(void) {
    /* An object allocated during a mark is black (it counts as marked);
     * freed again with gcrt_free before the mark ends, it is not live at
     * the mark's end and must not count in heap_marked, which the next
     * heap goal is computed from. A program that allocates and frees
     * buffers while a mark runs otherwise gets a goal inflated by all of
     * them. */
    int percent = gcrt_set_gc_percent(-1);
    const size_t live_bytes = 16 << 20;
    build_live(live_bytes / sizeof(struct node));
    gcrt_gc();
    uint64_t churn = 0;
    for (int attempt = 0; attempt < 5 && churn < (64u << 20); attempt++) {
        pthread_t t;
        REQUIRE_EQ(pthread_create(&t, NULL, run_gc, NULL), 0);
        /* Wait for the mark, then allocate and free while it runs. */
        for (int i = 0; i < 2000000 && !gcrt_load_acquire(&gcrt__gc_marking); i++) sched_yield();
        while (gcrt_load_acquire(&gcrt__gc_marking) && churn < (256u << 20)) {
            void *p = gcrt_alloc_noscan(4096);
            gcrt_free(p);
            churn += 4096;
        }
        pthread_join(t, NULL);
    }
    struct gcrt_pacer pc;
    gcrt__gc_pacer_state(&pc);
    printf("live %zu MiB, allocated and freed during the mark %llu MiB, heap_marked %llu MiB\n",
           live_bytes >> 20, (unsigned long long)(churn >> 20),
           (unsigned long long)(pc.heap_marked >> 20));
    EXPECT_UGE(churn, 8u << 20); /* the mark was seen */
    EXPECT_ULE(pc.heap_marked, live_bytes + live_bytes / 4);
    live_list = NULL;
    gcrt_set_gc_percent(percent);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_marked_excludes_objects_freed_during_mark);
    return th_summary();
}
