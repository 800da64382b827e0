/* test_gc_checkmark_root.c - GODEBUG=gccheckmark=1 must catch a missing
 * write barrier whose victim ends up referenced from a global root only.
 * A long chain hangs off a global; its last node B holds the only pointer
 * to a victim C. While a concurrent mark runs (started on another thread),
 * the main thread copies the pointer to C into a global (a root: no
 * barrier needed) and clears B's field with a plain store (the missing
 * barrier: the overwritten pointer is not shaded). The markers reach B
 * only at the end of the chain, after the move: C is never marked, and the
 * sweep frees it while the global still points to it. The check looked
 * only for marked heap objects pointing to unmarked ones, never at the
 * roots, so it said nothing and C was freed (child exit 4, "victim
 * FREED"); it must stop with "fatal error: gccheckmark" naming C. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "common/child.h"
#include "gcrt.h"
#include "harness.h"

#define MASK        0x5a5a5a5au
#define CHAIN       400000
#define VICTIM_SIZE 4096

struct link {
    struct link *next;
    void *f;
};

static struct link *volatile head; /* the chain */
static void *volatile gvictim;     /* global root: where C moves */
static uintptr_t masked_b, masked_c;
static atomic_int gc_done;

static __attribute__((noinline)) void build(void) {
    int old = gcrt_set_gc_percent(-1);
    struct link *tail = gcrt_alloc(sizeof *tail);
    masked_b = (uintptr_t)tail ^ MASK;
    unsigned char *c = gcrt_alloc(VICTIM_SIZE);
    memset(c, 0xC5, VICTIM_SIZE);
    tail->f = c;
    masked_c = (uintptr_t)c ^ MASK;
    c = NULL;
    struct link *h = tail;
    for (int i = 0; i < CHAIN; i++) {
        struct link *x = gcrt_alloc(sizeof *x);
        x->next = h;
        h = x;
    }
    head = h;
    gcrt_set_gc_percent(old);
}

static __attribute__((noinline)) void wipe_stack(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void *gc_thread(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    gcrt_gc();
    atomic_store(&gc_done, 1);
    gcrt_thread_detach();
    return NULL;
}

static __attribute__((noinline)) int move(void) {
    struct link *b = (struct link *)(masked_b ^ MASK);
    gvictim = b->f;                  /* into a root: fine */
    *(void *volatile *)&b->f = NULL; /* out of the heap without gcrt_store */
    return (int)*(volatile uint32_t *)&gcrt_gc_barrier_on;
}

static __attribute__((noinline)) int victim_intact(void) {
    unsigned char *c = (unsigned char *)(masked_c ^ MASK);
    void *base;
    if (!gcrt_find_object(c, &base, NULL) || base != c) return 0;
    for (int i = 0; i < VICTIM_SIZE; i++)
        if (c[i] != 0xC5) return 0;
    return 1;
}

static __attribute__((noinline)) void announce_victim(void) {
    fprintf(stderr, "victim %p\n", (void *)(masked_c ^ MASK));
}

static void child(void *arg) {
    (void)arg;
    setenv("GODEBUG", "gccheckmark=1", 1);
    if (gcrt_init() != 0) _exit(3);
    for (int i = 0; i < 20; i++) {
        build();
        announce_victim();
        wipe_stack();
        gcrt_gc();
        wipe_stack();
        atomic_store(&gc_done, 0);
        pthread_t t;
        pthread_create(&t, NULL, gc_thread, NULL);
        while (!*(volatile uint32_t *)&gcrt_gc_barrier_on && !atomic_load(&gc_done)) {
        }
        int during = atomic_load(&gc_done) ? 0 : move();
        pthread_join(t, NULL);
        wipe_stack();
        int ok = victim_intact();
        fprintf(stderr, "attempt %d: moved during the mark %d, victim %s\n", i, during,
                ok ? "intact" : "FREED");
        if (!ok) _exit(4); /* a miss that gccheckmark did not report */
        head = NULL;
        gvictim = NULL;
    }
    _exit(5); /* never managed to hide the pointer */
}

static void test_missing_barrier_victim_in_a_global(void) {
    struct child_result r;
    run_in_child(child, NULL, &r);
    const char *fatal = strstr(r.err, "fatal error: gccheckmark");
    if (!fatal) {
        FAILF("no gccheckmark report (exited %d status %d, signal %d); stderr:\n%s", r.exited,
              r.status, r.signaled, r.err);
        return;
    }
    EXPECT_EQ(r.signaled, SIGABRT);
    const char *v = NULL;
    for (const char *p = r.err; (p = strstr(p, "victim 0x")) && p < fatal; p++) v = p;
    REQUIRE_TRUE(v != NULL);
    char addr[32] = {0};
    sscanf(v + 7, "%31[0-9a-fx]", addr);
    if (!strstr(fatal, addr))
        FAILF("gccheckmark reported another object than the victim %s:\n%s", addr, r.err);
    else
        fprintf(stderr, "%.*s\n", (int)strcspn(fatal, "\n"), fatal);
}

int main(void) {
    RUN(test_missing_barrier_victim_in_a_global);
    return th_summary();
}
