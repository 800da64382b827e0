/* test_sync.c - Go's sync semantics under contention: Mutex (exclusion,
 * TryLock, starvation mode lets a waiter in), RWMutex (readers together,
 * writers alone, a pending writer stops new readers), WaitGroup, Once,
 * Cond (signal wakes one, broadcast all), the runtime semaphore (FIFO and
 * LIFO order), wait reasons, and Go's fatal errors and panics. */
#include "sema.h"
#include "test_chan_util.h"

/* ---- death ---------------------------------------------------------------- */

static void do_unlock_unlocked(void *arg) {
    gcrt_mutex_t m = {0};
    gcrt_mutex_unlock(&m);
}
static void do_runlock_unlocked(void *arg) {
    gcrt_rwmutex_t rw = {0};
    gcrt_rwmutex_runlock(&rw);
}
static void do_wunlock_unlocked(void *arg) {
    gcrt_rwmutex_t rw = {0};
    gcrt_rwmutex_unlock(&rw);
}
static void do_wg_negative(void *arg) {
    gcrt_wg_t wg = {0};
    gcrt_wg_add(&wg, 1);
    gcrt_wg_done(&wg);
    gcrt_wg_done(&wg);
}

static void test_misuse(void) {
    th_expect_death(do_unlock_unlocked, NULL, "fatal error: sync: unlock of unlocked mutex", -1,
                    SIGABRT);
    th_expect_death(do_runlock_unlocked, NULL, "fatal error: sync: RUnlock of unlocked RWMutex", -1,
                    SIGABRT);
    th_expect_death(do_wunlock_unlocked, NULL, "fatal error: sync: Unlock of unlocked RWMutex", -1,
                    SIGABRT);
    th_expect_death(do_wg_negative, NULL, "panic: sync: negative WaitGroup counter\n", 2, 0);
}

static void test_zero_values(void) {
    gcrt_mutex_t m = {0};
    EXPECT_TRUE(gcrt_mutex_trylock(&m));
    EXPECT_FALSE(gcrt_mutex_trylock(&m));
    gcrt_mutex_unlock(&m);
    gcrt_mutex_lock(&m);
    gcrt_mutex_unlock(&m);
    EXPECT_EQ(m.state, 0);
    gcrt_rwmutex_t rw = {0};
    EXPECT_TRUE(gcrt_rwmutex_tryrlock(&rw));
    EXPECT_TRUE(gcrt_rwmutex_tryrlock(&rw));
    EXPECT_FALSE(gcrt_rwmutex_trylock(&rw));
    gcrt_rwmutex_runlock(&rw);
    gcrt_rwmutex_runlock(&rw);
    EXPECT_TRUE(gcrt_rwmutex_trylock(&rw));
    EXPECT_FALSE(gcrt_rwmutex_tryrlock(&rw));
    EXPECT_FALSE(gcrt_rwmutex_trylock(&rw));
    gcrt_rwmutex_unlock(&rw);
    gcrt_wg_t wg = {0};
    gcrt_wg_wait(&wg); /* zero counter: returns */
    gcrt_cond_t c = {0};
    gcrt_cond_signal(&c); /* no waiters: nothing */
    gcrt_cond_broadcast(&c);
}

/* ---- Mutex ---------------------------------------------------------------- */

struct mu_arg {
    gcrt_mutex_t *m;
    long *counter;
    int n;
    gcrt_wg_t *wg;
};

static void mu_worker(void *p) {
    struct mu_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        if (i % 7 == 0) {
            while (!gcrt_mutex_trylock(a->m)) th_yield();
        } else {
            gcrt_mutex_lock(a->m);
        }
        long v = *a->counter; /* a torn increment shows a broken mutex */
        if (i % 64 == 0) th_yield();
        *a->counter = v + 1;
        gcrt_mutex_unlock(a->m);
    }
    gcrt_wg_done(a->wg);
}

static void test_mutex_exclusion(void) {
    enum { W = 8 };
    int n = (int)th_env_long("TH_MUTEX_N", 20000);
    gcrt_mutex_t m = {0};
    long counter = 0;
    gcrt_wg_t wg = {0};
    struct mu_arg a[W];
    gcrt_wg_add(&wg, W);
    for (int i = 0; i < W; i++) {
        a[i] = (struct mu_arg){&m, &counter, n, &wg};
        th_spawn(mu_worker, &a[i]);
    }
    gcrt_wg_wait(&wg);
    EXPECT_EQ(counter, (long)W * n);
    EXPECT_EQ(m.state, 0);
}

struct waiter_arg {
    gcrt_mutex_t *m;
    gcrt_g_t *volatile g;
    int done;
    gcrt_wg_t *wg;
};
static void mu_waiter(void *p) {
    struct waiter_arg *a = p;
    __atomic_store_n(&a->g, th_self(), __ATOMIC_RELEASE);
    gcrt_mutex_lock(a->m);
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
    gcrt_mutex_unlock(a->m);
    gcrt_wg_done(a->wg);
}

/* A blocked Lock waits in "semacquire"; waiting over 1 ms switches the
 * mutex to starvation mode, where Unlock hands it to the waiter: a tight
 * lock/unlock loop cannot keep it away (Go: TestMutexFairness). */
static void test_mutex_starvation_handoff(void) {
    gcrt_mutex_t m = {0};
    gcrt_wg_t wg = {0};
    struct waiter_arg a = {&m, NULL, 0, &wg};
    gcrt_wg_add(&wg, 1);
    gcrt_mutex_lock(&m);
    th_spawn(mu_waiter, &a);
    TH_WAIT_UNTIL(gcrt__sema_nwait(&m.sema) == 1);
    EXPECT_TRUE(th_blocked_with(a.g, GCRT_WAIT_SEMACQUIRE));
    EXPECT_STR_EQ(gcrt__wait_reason_string(a.g->waitreason), "semacquire");
    /* Hammer the lock; the waiter must get it within bounded rounds. */
    double t0 = th_now();
    long rounds = 0;
    while (!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE) && th_now() - t0 < 20) {
        gcrt_mutex_unlock(&m);
        gcrt_mutex_lock(&m);
        rounds++;
        if (rounds % 16 == 0) usleep(200); /* make the waiter wait > 1 ms */
    }
    gcrt_mutex_unlock(&m);
    gcrt_wg_wait(&wg);
    EXPECT_TRUE(a.done);
    EXPECT_EQ(m.state, 0);
}

/* ---- RWMutex -------------------------------------------------------------- */

struct rw_arg {
    gcrt_rwmutex_t *rw;
    int32_t *activity;
    int n, writer;
    gcrt_wg_t *wg;
};

/* Go's TestRWMutex hammer: readers add 1, writers 10000, each checks it is
 * compatible with whoever else is inside. */
static void rw_worker(void *p) {
    struct rw_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        if (a->writer) {
            gcrt_rwmutex_lock(a->rw);
            int32_t n = __atomic_add_fetch(a->activity, 10000, __ATOMIC_SEQ_CST);
            if (n != 10000) fprintf(stderr, "writer: activity %d\n", n), abort();
            if (i % 16 == 0) th_yield();
            __atomic_add_fetch(a->activity, -10000, __ATOMIC_SEQ_CST);
            gcrt_rwmutex_unlock(a->rw);
        } else {
            gcrt_rwmutex_rlock(a->rw);
            int32_t n = __atomic_add_fetch(a->activity, 1, __ATOMIC_SEQ_CST);
            if (n < 1 || n >= 10000) fprintf(stderr, "reader: activity %d\n", n), abort();
            if (i % 16 == 0) th_yield();
            __atomic_add_fetch(a->activity, -1, __ATOMIC_SEQ_CST);
            gcrt_rwmutex_runlock(a->rw);
        }
    }
    gcrt_wg_done(a->wg);
}

static void test_rwmutex_hammer(void) {
    enum { R = 6, W = 2 };
    int n = (int)th_env_long("TH_RW_N", 5000);
    gcrt_rwmutex_t rw = {0};
    int32_t activity = 0;
    gcrt_wg_t wg = {0};
    struct rw_arg a[R + W];
    gcrt_wg_add(&wg, R + W);
    for (int i = 0; i < R + W; i++) {
        a[i] = (struct rw_arg){&rw, &activity, i < W ? n / 4 : n, i < W, &wg};
        th_spawn(rw_worker, &a[i]);
    }
    gcrt_wg_wait(&wg);
    EXPECT_EQ(activity, 0);
    EXPECT_EQ(rw.reader_count, 0);
    EXPECT_EQ(rw.w.state, 0);
}

struct rlock_arg {
    gcrt_rwmutex_t *rw;
    int *inside;
    int k;
    gcrt_wg_t *wg;
};
static void reader_together(void *p) {
    struct rlock_arg *a = p;
    gcrt_rwmutex_rlock(a->rw);
    __atomic_add_fetch(a->inside, 1, __ATOMIC_SEQ_CST);
    /* All k readers must be inside at once, or this never ends. */
    while (__atomic_load_n(a->inside, __ATOMIC_SEQ_CST) < a->k) th_yield();
    gcrt_rwmutex_runlock(a->rw);
    gcrt_wg_done(a->wg);
}
static void writer_once(void *p) {
    struct rlock_arg *a = p;
    gcrt_rwmutex_lock(a->rw);
    __atomic_store_n(a->inside, -1, __ATOMIC_SEQ_CST);
    gcrt_rwmutex_unlock(a->rw);
    gcrt_wg_done(a->wg);
}

static void test_rwmutex_readers_share_writer_waits(void) {
    enum { K = 4 };
    gcrt_rwmutex_t rw = {0};
    int inside = 0;
    gcrt_wg_t wg = {0};
    struct rlock_arg a = {&rw, &inside, K, &wg};
    gcrt_wg_add(&wg, K);
    for (int i = 0; i < K; i++) th_spawn(reader_together, &a);
    gcrt_wg_wait(&wg);
    EXPECT_EQ(inside, K);
    /* A pending writer blocks new readers (no writer starvation). */
    gcrt_rwmutex_rlock(&rw);
    gcrt_wg_add(&wg, 1);
    th_spawn(writer_once, &a);
    TH_WAIT_UNTIL(gcrt__sema_nwait(&rw.writer_sem) == 1);
    EXPECT_FALSE(gcrt_rwmutex_tryrlock(&rw));
    EXPECT_EQ(inside, K);
    gcrt_rwmutex_runlock(&rw); /* the last reader lets the writer in */
    gcrt_wg_wait(&wg);
    EXPECT_EQ(inside, -1);
    EXPECT_TRUE(gcrt_rwmutex_tryrlock(&rw));
    gcrt_rwmutex_runlock(&rw);
}

/* ---- WaitGroup and Once ---------------------------------------------------- */

struct wg_arg {
    gcrt_wg_t *start, *done;
    int *count;
};
static void wg_worker(void *p) {
    struct wg_arg *a = p;
    gcrt_wg_wait(a->start); /* many waiters on one group */
    __atomic_add_fetch(a->count, 1, __ATOMIC_SEQ_CST);
    gcrt_wg_done(a->done);
}

static void test_waitgroup(void) {
    enum { N = 32 };
    for (int round = 0; round < 3; round++) { /* reuse after Wait returned */
        gcrt_wg_t start = {0}, done = {0};
        int count = 0;
        struct wg_arg a = {&start, &done, &count};
        gcrt_wg_add(&start, 1);
        gcrt_wg_add(&done, N);
        for (int i = 0; i < N; i++) th_spawn(wg_worker, &a);
        TH_WAIT_UNTIL(gcrt__sema_nwait(&start.sema) == N);
        EXPECT_EQ(count, 0);
        EXPECT_EQ((uint32_t)start.state, N); /* waiters */
        gcrt_wg_done(&start);                /* releases all N */
        gcrt_wg_wait(&done);
        EXPECT_EQ(count, N);
        EXPECT_EQ(done.state, 0);
    }
}

struct once_arg {
    gcrt_once_t *once;
    int *calls, *seen;
    gcrt_wg_t *wg;
};
static void once_fn(void *p) {
    int *calls = p;
    usleep(1000); /* others arrive meanwhile and must wait */
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
}
static void once_worker(void *p) {
    struct once_arg *a = p;
    gcrt_once_do(a->once, once_fn, a->calls);
    if (__atomic_load_n(a->calls, __ATOMIC_SEQ_CST) == 1)
        __atomic_add_fetch(a->seen, 1, __ATOMIC_SEQ_CST);
    gcrt_wg_done(a->wg);
}

static void test_once(void) {
    enum { N = 16 };
    gcrt_once_t once = {0};
    int calls = 0, seen = 0;
    gcrt_wg_t wg = {0};
    struct once_arg a = {&once, &calls, &seen, &wg};
    gcrt_wg_add(&wg, N);
    for (int i = 0; i < N; i++) th_spawn(once_worker, &a);
    gcrt_wg_wait(&wg);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(seen, N); /* every caller returned after fn did */
    gcrt_once_do(&once, once_fn, &calls);
    EXPECT_EQ(calls, 1);
}

/* ---- Cond ------------------------------------------------------------------ */

struct cond_arg {
    gcrt_mutex_t *m;
    gcrt_cond_t *c;
    int *ready, *woken;
    gcrt_g_t *g;
    gcrt_wg_t *wg;
};
static void cond_waiter(void *p) {
    struct cond_arg *a = p;
    __atomic_store_n(&a->g, th_self(), __ATOMIC_RELEASE);
    gcrt_mutex_lock(a->m);
    (*a->ready)++;
    gcrt_cond_wait(a->c, a->m); /* a single wait: wakeups are never spurious */
    (*a->woken)++;
    gcrt_mutex_unlock(a->m);
    gcrt_wg_done(a->wg);
}

static int locked_read(gcrt_mutex_t *m, int *p) {
    gcrt_mutex_lock(m);
    int v = *p;
    gcrt_mutex_unlock(m);
    return v;
}

static int count_cond_waiting(struct cond_arg *a, int n) {
    int k = 0;
    for (int i = 0; i < n; i++)
        k += th_blocked_with(__atomic_load_n(&a[i].g, __ATOMIC_ACQUIRE), GCRT_WAIT_SYNC_COND_WAIT);
    return k;
}

static void test_cond_signal_broadcast(void) {
    enum { N = 8 };
    gcrt_mutex_t m = {0};
    gcrt_cond_t c = {0};
    int ready = 0, woken = 0;
    gcrt_wg_t wg = {0};
    struct cond_arg a[N];
    gcrt_wg_add(&wg, N);
    for (int i = 0; i < N; i++) {
        a[i] = (struct cond_arg){&m, &c, &ready, &woken, NULL, &wg};
        th_spawn(cond_waiter, &a[i]);
    }
    TH_WAIT_UNTIL(count_cond_waiting(a, N) == N);
    EXPECT_EQ(locked_read(&m, &ready), N);
    EXPECT_STR_EQ(gcrt__wait_reason_string(a[0].g->waitreason), "sync.Cond.Wait");
    /* Signal wakes exactly one. */
    gcrt_cond_signal(&c);
    TH_WAIT_UNTIL(locked_read(&m, &woken) == 1);
    EXPECT_EQ(count_cond_waiting(a, N), N - 1);
    gcrt_cond_signal(&c);
    TH_WAIT_UNTIL(locked_read(&m, &woken) == 2);
    /* Broadcast wakes the rest. */
    gcrt_cond_broadcast(&c);
    gcrt_wg_wait(&wg);
    EXPECT_EQ(woken, N);
    gcrt_cond_signal(&c); /* nobody left */
}

/* Bounded queue with two conds, many producers and consumers. */
struct bq {
    gcrt_mutex_t m;
    gcrt_cond_t not_empty, not_full;
    int buf[4], head, n;
    long sum;
};
struct bq_arg {
    struct bq *q;
    int n;
    gcrt_wg_t *wg;
};
static void bq_producer(void *p) {
    struct bq_arg *a = p;
    struct bq *q = a->q;
    for (int i = 1; i <= a->n; i++) {
        gcrt_mutex_lock(&q->m);
        while (q->n == 4) gcrt_cond_wait(&q->not_full, &q->m);
        q->buf[(q->head + q->n++) % 4] = i;
        gcrt_cond_signal(&q->not_empty);
        gcrt_mutex_unlock(&q->m);
    }
    gcrt_wg_done(a->wg);
}
static void bq_consumer(void *p) {
    struct bq_arg *a = p;
    struct bq *q = a->q;
    for (int i = 0; i < a->n; i++) {
        gcrt_mutex_lock(&q->m);
        while (q->n == 0) gcrt_cond_wait(&q->not_empty, &q->m);
        q->sum += q->buf[q->head];
        q->head = (q->head + 1) % 4;
        q->n--;
        gcrt_cond_signal(&q->not_full);
        gcrt_mutex_unlock(&q->m);
    }
    gcrt_wg_done(a->wg);
}

static void test_cond_bounded_queue(void) {
    enum { P = 4 };
    int n = (int)th_env_long("TH_BQ_N", 5000);
    struct bq q;
    memset(&q, 0, sizeof q);
    gcrt_wg_t wg = {0};
    struct bq_arg a = {&q, n, &wg};
    gcrt_wg_add(&wg, 2 * P);
    for (int i = 0; i < P; i++) {
        th_spawn(bq_consumer, &a);
        th_spawn(bq_producer, &a);
    }
    gcrt_wg_wait(&wg);
    EXPECT_EQ(q.sum, (long)P * n * (n + 1) / 2);
    EXPECT_EQ(q.n, 0);
}

/* ---- the semaphore ---------------------------------------------------------- */

struct sem_arg {
    uint32_t *sem;
    int id;
    int *order, *pos;
    gcrt_wg_t *wg;
};
static void sem_waiter(void *p) {
    struct sem_arg *a = p;
    gcrt__semacquire(a->sem, false, GCRT_WAIT_SEMACQUIRE);
    a->order[__atomic_fetch_add(a->pos, 1, __ATOMIC_SEQ_CST)] = a->id;
    gcrt_wg_done(a->wg);
}

/* Waiters on one address are released first in, first out; waiters on an
 * address that hashes to the same root are not disturbed. */
static void test_sema_fifo(void) {
    enum { N = 6 };
    static uint32_t sems[2 * 251 + 1]; /* sems[0] and sems[251*2] share a root */
    uint32_t *s = &sems[0], *other = &sems[2 * 251];
    int order[N + 1], pos = 0;
    gcrt_wg_t wg = {0};
    struct sem_arg a[N + 1];
    gcrt_wg_add(&wg, N + 1);
    a[N] = (struct sem_arg){other, 99, order, &pos, &wg};
    th_spawn(sem_waiter, &a[N]);
    TH_WAIT_UNTIL(gcrt__sema_nwait(other) == 1);
    for (int i = 0; i < N; i++) {
        a[i] = (struct sem_arg){s, i, order, &pos, &wg};
        th_spawn(sem_waiter, &a[i]);
        TH_WAIT_UNTIL(gcrt__sema_nwait(s) == i + 1);
    }
    for (int i = 0; i < N; i++) {
        gcrt__semrelease(s, false);
        TH_WAIT_UNTIL(__atomic_load_n(&pos, __ATOMIC_SEQ_CST) == i + 1);
    }
    EXPECT_EQ(gcrt__sema_nwait(other), 1);
    gcrt__semrelease(other, true); /* hand-off path */
    gcrt_wg_wait(&wg);
    for (int i = 0; i < N; i++) EXPECT_EQ(order[i], i);
    EXPECT_EQ(order[N], 99);
    EXPECT_EQ(*s, 0);
    EXPECT_EQ(*other, 0);
}

static void suite(void) {
    RUN(test_mutex_exclusion);
    RUN(test_mutex_starvation_handoff);
    RUN(test_rwmutex_hammer);
    RUN(test_rwmutex_readers_share_writer_waits);
    RUN(test_waitgroup);
    RUN(test_once);
    RUN(test_cond_signal_broadcast);
    RUN(test_cond_bounded_queue);
    RUN(test_sema_fifo);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_misuse);
    RUN(test_zero_values);
    TH_RUN_BOTH_MODES(suite);
    return th_summary();
}
