/* test_sched_go.c - goroutines: create, run, yield, exit; park/ready between
 * goroutines and between a goroutine and a plain thread; GOMAXPROCS; ids
 * and creation records; allocation from a goroutine. */
#include <pthread.h>
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"
#include "lock.h"
#include "sched.h"

/* A counting latch built on park/ready (what a WaitGroup does). */
typedef struct {
    gcrt_lock_t lock;
    int64_t count;
    gcrt_g_t *waiter;
} latch_t;

static int latch_unlock(gcrt_g_t *g, void *arg) {
    gcrt__unlock(&((latch_t *)arg)->lock);
    return 1;
}
static void latch_init(latch_t *l, int64_t n) {
    gcrt__lock_init(&l->lock, GCRT_RANK_SEMA);
    l->count = n;
    l->waiter = NULL;
}
static void latch_done(latch_t *l) {
    gcrt__lock(&l->lock);
    gcrt_g_t *w = NULL;
    if (--l->count == 0) {
        w = l->waiter;
        l->waiter = NULL;
    }
    gcrt__unlock(&l->lock);
    if (w) gcrt__ready(w);
}
static void latch_wait(latch_t *l) {
    gcrt__lock(&l->lock);
    while (l->count > 0) {
        l->waiter = gcrt__getg();
        gcrt__park(latch_unlock, l, GCRT_WAIT_SEMACQUIRE);
        gcrt__lock(&l->lock);
    }
    gcrt__unlock(&l->lock);
}

static latch_t latch;
static int64_t sum;

static void add_one(void *arg) {
    __atomic_fetch_add(&sum, (int64_t)(intptr_t)arg, __ATOMIC_RELAXED);
    EXPECT_TRUE(gcrt__on_goroutine());
    EXPECT_GT(gcrt_goid(), 0);
    latch_done(&latch);
}

static void test_go_many(void) {
    enum { N = 10000 };
    sum = 0;
    latch_init(&latch, N);
    for (int i = 0; i < N; i++) EXPECT_GT(gcrt_go(add_one, (void *)(intptr_t)1), 0);
    latch_wait(&latch);
    EXPECT_EQ(sum, N);
}

static void yielder(void *arg) {
    for (int i = 0; i < 100; i++) {
        __atomic_fetch_add(&sum, 1, __ATOMIC_RELAXED);
        gcrt_gosched();
    }
    latch_done(&latch);
}

static void test_gosched(void) {
    sum = 0;
    latch_init(&latch, 8);
    for (int i = 0; i < 8; i++) gcrt_go(yielder, NULL);
    latch_wait(&latch);
    EXPECT_EQ(sum, 800);
}

/* Ping-pong between two goroutines through one-slot boxes. */
typedef struct {
    gcrt_lock_t lock;
    gcrt_g_t *waiter;
    int value, full;
} box_t;
static int unlock_box(gcrt_g_t *g, void *arg) {
    gcrt__unlock(&((box_t *)arg)->lock);
    return 1;
}
static int box_take(box_t *b) {
    gcrt__lock(&b->lock);
    while (!b->full) {
        b->waiter = gcrt__getg();
        gcrt__park(unlock_box, b, GCRT_WAIT_CHAN_RECEIVE);
        gcrt__lock(&b->lock);
    }
    b->full = 0;
    int v = b->value;
    gcrt__unlock(&b->lock);
    return v;
}
static void box_put(box_t *b, int v) {
    gcrt__lock(&b->lock);
    b->value = v;
    b->full = 1;
    gcrt_g_t *w = b->waiter;
    b->waiter = NULL;
    gcrt__unlock(&b->lock);
    if (w) gcrt__ready(w);
}
static box_t ping = {GCRT_LOCK_INIT(GCRT_RANK_CHAN), 0, 0, 0};
static box_t pong = {GCRT_LOCK_INIT(GCRT_RANK_CHAN), 0, 0, 0};
enum { ROUNDS = 100000 };

static void ponger(void *arg) {
    for (int i = 0; i < ROUNDS; i++) box_put(&pong, box_take(&ping) + 1);
}
static void pinger(void *arg) {
    int64_t s = 0;
    for (int i = 0; i < ROUNDS; i++) {
        box_put(&ping, i);
        s += box_take(&pong);
    }
    sum = s;
    latch_done(&latch);
}

static void test_pingpong_goroutines(void) {
    latch_init(&latch, 1);
    gcrt_go(ponger, NULL);
    gcrt_go(pinger, NULL);
    latch_wait(&latch);
    EXPECT_EQ(sum, (int64_t)ROUNDS * (ROUNDS - 1) / 2 + ROUNDS);
}

/* A plain thread (the test's main thread) and a goroutine. */
static void test_pingpong_thread_goroutine(void) {
    gcrt_go(ponger, NULL);
    int64_t s = 0;
    for (int i = 0; i < ROUNDS / 10; i++) {
        box_put(&ping, i);
        s += box_take(&pong);
    }
    /* drain the ponger */
    for (int i = ROUNDS / 10; i < ROUNDS; i++) {
        box_put(&ping, i);
        box_take(&pong);
    }
    EXPECT_EQ(s, (int64_t)(ROUNDS / 10) * (ROUNDS / 10 - 1) / 2 + ROUNDS / 10);
}

static int64_t parent_seen, child_parent;
static uintptr_t child_gopc;
static void child(void *arg) {
    gcrt_g_t *g = gcrt__getg();
    child_parent = g->parentgoid;
    child_gopc = g->gopc;
    latch_done(&latch);
}
static int64_t child_id;
static void parent(void *arg) {
    parent_seen = gcrt_goid();
    /* not a tail call: the creation PC must be inside parent() */
    child_id = gcrt_go(child, NULL);
    __asm__ __volatile__("" ::: "memory");
}
static void test_creation_records(void) {
    latch_init(&latch, 1);
    gcrt_go(parent, NULL);
    latch_wait(&latch);
    EXPECT_GT(parent_seen, 0);
    EXPECT_EQ(child_parent, parent_seen);
    /* gopc is a return address inside parent() */
    EXPECT_UGE(child_gopc, (uintptr_t)parent);
    EXPECT_ULT(child_gopc, (uintptr_t)parent + 256);
}

static void allocer(void *arg) {
    for (int i = 0; i < 1000; i++) {
        long *p = gcrt_alloc(64 + (size_t)(i % 200) * 8);
        p[0] = i;
        EXPECT_EQ(p[1], 0);
        if (i % 100 == 0) gcrt_gosched();
    }
    latch_done(&latch);
}
static void test_alloc_in_goroutines(void) {
    latch_init(&latch, 16);
    for (int i = 0; i < 16; i++) gcrt_go(allocer, NULL);
    latch_wait(&latch);
}

/* Collections while a goroutine that has not started yet is queued: it
 * has no frame yet (sched.c newproc), and its argument, to which the
 * creator keeps no reference, must survive. A spinning goroutine holds the
 * only P, so the new one stays queued across both collections. */
enum { ARG_WORDS = 8 };
static int hog_stop, arg_ok;
static void hog(void *arg) {
    while (!__atomic_load_n(&hog_stop, __ATOMIC_ACQUIRE)) __builtin_ia32_pause(); /* no yield */
}
static void check_arg(void *arg) {
    long *p = arg;
    int ok = 1;
    for (int i = 0; i < ARG_WORDS; i++) ok &= p[i] == 0x5a5a0000L + i;
    arg_ok = ok;
    latch_done(&latch);
}
static GCRT_NOINLINE void start_with_arg(void) {
    long *p = gcrt_alloc(ARG_WORDS * sizeof(long));
    for (int i = 0; i < ARG_WORDS; i++) p[i] = 0x5a5a0000L + i;
    gcrt_go(check_arg, p);
}
static GCRT_NOINLINE void wipe_stack(void) {
    volatile char buf[8192];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = 0;
}
static void test_arg_is_root(void) {
    int old = gcrt_gomaxprocs(1);
    hog_stop = 0;
    arg_ok = 0;
    latch_init(&latch, 1);
    gcrt_go(hog, NULL);
    usleep(10000); /* the hog holds the P */
    start_with_arg();
    wipe_stack();
    for (int round = 0; round < 2; round++) {
        gcrt_gc();
        /* Reuse whatever the collection freed of that size. */
        for (int i = 0; i < 10000; i++) {
            long *q = gcrt_alloc(ARG_WORDS * sizeof(long));
            for (int k = 0; k < ARG_WORDS; k++) q[k] = -1;
        }
    }
    __atomic_store_n(&hog_stop, 1, __ATOMIC_RELEASE);
    latch_wait(&latch);
    EXPECT_EQ(arg_ok, 1);
    gcrt_gomaxprocs(old);
}

static void test_gomaxprocs(void) {
    int old = gcrt_gomaxprocs(0);
    EXPECT_GT(old, 0);
    EXPECT_EQ(gcrt_gomaxprocs(4), old);
    EXPECT_EQ(gcrt_gomaxprocs(0), 4);
    test_go_many();
    EXPECT_EQ(gcrt_gomaxprocs(1), 4);
    test_go_many();
    test_pingpong_goroutines();
    EXPECT_EQ(gcrt_gomaxprocs(old), 1);
    test_go_many();
}

static void test_num_goroutine(void) {
    /* everything above has finished */
    for (int i = 0; i < 100 && gcrt_num_goroutine() != 0; i++) usleep(1000);
    EXPECT_EQ(gcrt_num_goroutine(), 0);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_go_many);
    RUN(test_gosched);
    RUN(test_pingpong_goroutines);
    RUN(test_pingpong_thread_goroutine);
    RUN(test_creation_records);
    RUN(test_alloc_in_goroutines);
    RUN(test_arg_is_root);
    RUN(test_gomaxprocs);
    RUN(test_num_goroutine);
    return th_summary();
}
