/* test_gc_checkmark.c - GODEBUG=gccheckmark=1 catches a missing write
 * barrier. In a forked child (GODEBUG set before gcrt_init): a long chain
 * hangs off a global, its last node B holds the only pointer to a victim
 * object C. A collection is started on another thread; as soon as marking
 * is on (gcrt_gc_barrier_on), the main thread moves the pointer to C out of
 * B, which the markers reach only at the end of the chain, into an object
 * they will not scan again, with plain stores that bypass gcrt_store:
 *   - "black": A is allocated during the mark (black, never scanned);
 *   - "scanned": A is an old object one hop from a global root, scanned
 *     at once (the main thread waits a little before the move).
 * C is then reachable (global -> A -> C) but was never marked: the
 * stop-the-world re-mark must stop the program with
 * "fatal error: gccheckmark" naming C's address. If the markers happen to
 * reach B before the move (no miss), the child tries again.
 * The control does the same move through gcrt_store: no fatal error, C
 * intact after the cycle. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "common/child.h"
#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"

#define MASK        0x5a5a5a5au
#define CHAIN       400000
#define VICTIM_SIZE 4096

struct link {
    struct link *next;
    void *f;
};

/* Global roots, volatile (never read otherwise). Scanned in address
 * order and marked LIFO: A, pushed last, is scanned before the chain. */
static struct {
    struct link *volatile head;  /* the chain */
    struct link *volatile old_a; /* an old object */
} g;
#define head  g.head
#define old_a g.old_a
static struct link *volatile holder; /* global root: A */
static uintptr_t masked_b, masked_c; /* B and C, invisible to the scan */
static atomic_int gc_done;
static int64_t scan_wait_us = 200; /* GCRT_CHECKMARK_WAIT_US */

static __attribute__((noinline)) void build(void) {
    int old = gcrt_set_gc_percent(-1); /* no cycle while building */
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
    old_a = gcrt_alloc(sizeof *old_a);
    gcrt_set_gc_percent(old);
}

static __attribute__((noinline)) void wipe_stack(void) {
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
    /* Without a use the compiler drops the memset (and the call). */
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void *gc_thread(void *arg) {
    gcrt_thread_attach();
    gcrt_gc();
    atomic_store(&gc_done, 1);
    gcrt_thread_detach();
    return NULL;
}

/* The move, with or without the barrier. Returns whether the mark was
 * still running afterwards. */
static __attribute__((noinline)) int move(int scanned, int barrier) {
    struct link *b = (struct link *)(masked_b ^ MASK);
    struct link *a;
    if (scanned) {
        a = old_a;
        /* The markers scan A now, then walk the chain. */
        int64_t until = gcrt_nanotime() + scan_wait_us * 1000;
        while (gcrt_nanotime() < until) {
        }
    } else {
        a = gcrt_alloc(sizeof *a); /* allocated during the mark: black */
        holder = a;
    }
    if (barrier) {
        gcrt_store(&a->f, b->f);
        gcrt_store(&b->f, NULL);
    } else {
        *(void *volatile *)&a->f = b->f; /* no barrier: hidden from the mark */
        *(void *volatile *)&b->f = NULL;
    }
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

struct mode {
    int scanned, barrier;
};

/* C's address unmasked lives only in this frame: in attempt() the compiler
 * may keep it in a slot of attempt's own frame (it did under TSan), which
 * the cycle's stack snapshot would find and so mark C, hiding the miss. */
static __attribute__((noinline)) void announce_victim(void) {
    fprintf(stderr, "victim %p\n", (void *)(masked_c ^ MASK));
}

/* A fresh chain and victim, then a collection started on thread t; returns
 * once marking is on (1), or the collection already over (0). */
static int start_marking(pthread_t *t) {
    build();
    announce_victim();
    wipe_stack();
    gcrt_gc(); /* nothing in flight; B and C are old */
    wipe_stack();
    atomic_store(&gc_done, 0);
    pthread_create(t, NULL, gc_thread, NULL);
    while (!*(volatile uint32_t *)&gcrt_gc_barrier_on && !atomic_load(&gc_done)) {
    }
    return !atomic_load(&gc_done);
}

/* One attempt in this process; returns 1 if the move happened while the
 * mark was running. */
static int attempt(const struct mode *md) {
    pthread_t t;
    int during = start_marking(&t) ? move(md->scanned, md->barrier) : 0;
    pthread_join(t, NULL);
    return during;
}

static void child(void *arg) {
    const struct mode *md = arg;
    setenv("GODEBUG", "gccheckmark=1", 1);
    if (gcrt_init() != 0) _exit(3);
    int tries = (int)th_env_long("GCRT_CHECKMARK_TRIES", 20);
    scan_wait_us = th_env_long("GCRT_CHECKMARK_WAIT_US", scan_wait_us);
    for (int i = 0; i < tries; i++) {
        int during = attempt(md);
        /* Who reaches victim_intact without a fatal error either had
         * the barrier, or lost the race (the markers passed B first). */
        wipe_stack();
        gcrt_gc();
        int ok = victim_intact();
        fprintf(stderr, "attempt %d: moved during the mark %d, victim %s\n", i, during,
                ok ? "intact" : "FREED");
        if (!ok) _exit(4); /* a miss that gccheckmark did not report */
        if (md->barrier) _exit(0);
        /* "scanned": the markers had not reached A yet (a program with
         * big roots, such as a sanitizer's 12 MB of globals, has them
         * all copied and queued first), or the mark was over: wait longer,
         * or less. */
        if (md->scanned) {
            if (during && scan_wait_us < 200000) scan_wait_us *= 2;
            if (!during && scan_wait_us > 100) scan_wait_us = scan_wait_us * 3 / 4;
        }
        head = NULL;
        holder = NULL;
        old_a = NULL;
    }
    _exit(5); /* never managed to hide the pointer */
}

static void expect_detection(const struct mode *md) {
    struct child_result r;
    run_in_child(child, (void *)md, &r);
    const char *fatal = strstr(r.err, "fatal error: gccheckmark");
    if (!fatal) {
        FAILF("no gccheckmark report (exited %d status %d, signal %d); stderr:\n%s", r.exited,
              r.status, r.signaled, r.err);
        return;
    }
    EXPECT_EQ(r.signaled, SIGABRT);
    /* The report names the victim: the address printed by the last
     * attempt before the fatal error. */
    const char *v = NULL;
    for (const char *p = r.err; (p = strstr(p, "victim 0x")) && p < fatal; p++) v = p;
    REQUIRE_TRUE(v != NULL);
    char addr[32] = {0};
    sscanf(v + 7, "%31[0-9a-fx]", addr);
    if (!strstr(fatal, addr))
        FAILF("gccheckmark reported another object than the victim %s:\n%s", addr, r.err);
    else {
        /* ... with its size and the site that allocated it: a return
         * address inside build() (the child is a fork: same addresses). */
        char want[64];
        snprintf(want, sizeof want, "%s, %d bytes", addr, VICTIM_SIZE);
        EXPECT_TRUE(strstr(fatal, want) != NULL);
        const char *at = strstr(fatal, "allocated at 0x");
        unsigned long pc = 0;
        if (at) sscanf(at + strlen("allocated at "), "%lx", &pc);
        uintptr_t fn = (uintptr_t)&build;
        if (pc < fn || pc >= fn + 512)
            FAILF("allocation site %#lx is not in build() at %#lx:\n%.300s", pc, (unsigned long)fn,
                  fatal);
        int tries = 0;
        for (const char *p = r.err; (p = strstr(p, "attempt ")) && p < fatal; p++) tries++;
        fprintf(stderr, "caught after %d missed attempts: %.*s\n", tries, (int)strcspn(fatal, "\n"),
                fatal);
    }
}

static void test_missing_barrier_black_object(void) {
    static const struct mode md = {0, 0};
    expect_detection(&md);
}

static void test_missing_barrier_scanned_object(void) {
    static const struct mode md = {1, 0};
    expect_detection(&md);
}

static void test_with_barrier_no_report(void) {
    static const struct mode md = {0, 1};
    struct child_result r;
    run_in_child(child, (void *)&md, &r);
    if (!r.exited || r.status != 0 || strstr(r.err, "fatal error"))
        FAILF("the child failed (exited %d status %d, signal %d); stderr:\n%s", r.exited, r.status,
              r.signaled, r.err);
}

/* "stack": the pointer to C is moved out of B into a local of the main
 * thread, which then waits in a bracketed blocking call (gcrt_pthread_join:
 * counted as stopped at once, so its stack is not scanned again at the
 * mark's end). The stacks are no barrier's business, so only gccheckmark's
 * look at them finds C: it must name C (without stopping the program: a
 * stack word may be no pointer) and keep it. Without that look C is freed
 * while the local still points to it. */
static __attribute__((noinline)) int move_to_stack(void *volatile *local) {
    struct link *b = (struct link *)(masked_b ^ MASK);
    *local = b->f;
    *(void *volatile *)&b->f = NULL; /* no barrier: the delete */
    return (int)*(volatile uint32_t *)&gcrt_gc_barrier_on;
}

static void child_stack(void *arg) {
    (void)arg;
    setenv("GODEBUG", "gccheckmark=1", 1);
    if (gcrt_init() != 0) _exit(3);
    for (int i = 0; i < 20; i++) {
        pthread_t t;
        void *volatile local = NULL;
        int during = start_marking(&t) ? move_to_stack(&local) : 0;
        gcrt_pthread_join(t, NULL);
        int ok = victim_intact();
        fprintf(stderr, "attempt %d: moved during the mark %d, victim %s\n", i, during,
                ok ? "intact" : "FREED");
        if (!ok) _exit(4);
        if (during) _exit(0);
        local = NULL;
        head = NULL;
    }
    _exit(5); /* never moved it during a mark */
}

static void test_missing_barrier_stack_object(void) {
    struct child_result r;
    run_in_child(child_stack, NULL, &r);
    if (!r.exited || r.status != 0 || strstr(r.err, "fatal error")) {
        FAILF("exited %d status %d, signal %d; stderr:\n%s", r.exited, r.status, r.signaled, r.err);
        return;
    }
    /* The last attempt's victim is named, as a stack word's. */
    const char *v = NULL;
    for (const char *p = r.err; (p = strstr(p, "victim 0x")); p++) v = p;
    REQUIRE_TRUE(v != NULL);
    char addr[32] = {0};
    sscanf(v + 7, "%31[0-9a-fx]", addr);
    char want[96];
    snprintf(want, sizeof want, "a stack word points to: %s, %d bytes", addr, VICTIM_SIZE);
    if (!strstr(r.err, want)) FAILF("no report of %s as a stack word's:\n%s", addr, r.err);
}

int main(void) {
    RUN(test_missing_barrier_stack_object);
    RUN(test_missing_barrier_black_object);
    RUN(test_missing_barrier_scanned_object);
    RUN(test_with_barrier_no_report);
    return th_summary();
}
