/* test_stw_reattach.c - a thread that attaches reuses the runtime record
 * of a thread that detached: the stack bounds the collector scans must be
 * the new thread's, also for the record's thread goroutine (g0), or the
 * part of the new stack outside the old one goes unscanned. Two threads on
 * stacks of our own that overlap by half make the difference certain. */
#include <alloca.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gcrt.h"
#include "harness.h"

#define MASK     0x5a5a5a5au
#define NOINLINE __attribute__((noinline))
enum { STACK = 1 << 20, OBJ = 4096 };

static uintptr_t masked;
static int found_bad;

static void *first(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    gcrt_keep_alive(gcrt_alloc(64));
    gcrt_gc(); /* the record's thread goroutine exists, with this stack */
    gcrt_thread_detach();
    return NULL;
}

/* Deep below the caller's frame (more than half the stack down, inside
 * the first thread's old bounds), collect. */
static NOINLINE void collect_deep(void) {
    volatile char *pad = alloca(STACK / 2 + STACK / 8);
    pad[0] = 0;
    gcrt_gc();
    gcrt_gc();
    gcrt_keep_alive((void *)pad);
}

static void *second(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    /* The only reference: this frame, near the top of the stack, above
     * the first thread's old top. */
    unsigned char *volatile obj = gcrt_alloc(OBJ);
    memset(obj, 0x77, OBJ);
    masked = (uintptr_t)obj ^ MASK;
    collect_deep();
    void *base;
    if (!gcrt_find_object((void *)obj, &base, NULL) || base != (void *)obj) found_bad = 1;
    gcrt_thread_detach();
    return NULL;
}

static void run_on(void *stack, void *(*fn)(void *)) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstack(&a, stack, STACK);
    pthread_t t;
    REQUIRE_EQ(pthread_create(&t, &a, fn, NULL), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&a);
}

static void test_reattach_on_overlapping_stack(void) {
    char *area = aligned_alloc(4096, STACK + STACK / 2);
    REQUIRE_TRUE(area != NULL);
    run_on(area, first);              /* [area, area + STACK) */
    run_on(area + STACK / 2, second); /* [area + STACK/2, area + 3 STACK/2) */
    EXPECT_EQ(found_bad, 0);
    free(area);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_reattach_on_overlapping_stack);
    return th_summary();
}
