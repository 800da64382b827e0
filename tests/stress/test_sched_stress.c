/* test_sched_stress.c - the scheduler under load: 100,000 goroutines
 * alive at once, many ping-pong pairs across Ps, work stealing under
 * imbalance, create/exit churn with a stop-the-world racing it.
 * Scale: GCRT_STRESS_ROUNDS (ping-pong round trips per pair, default
 * 20000). */
#include <pthread.h>
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"
#include "lock.h"
#include "os.h"
#include "sched.h"

#define NOINLINE __attribute__((noinline))

/* ---- a gate many goroutines wait at ------------------------------------ */
typedef struct {
    gcrt_lock_t lock;
    gcrt_g_t **waiters;
    int64_t n, cap;
} gate_t;
static int gate_unlock(gcrt_g_t *g, void *arg) {
    gcrt__unlock(&((gate_t *)arg)->lock);
    return 1;
}
static void gate_wait(gate_t *gt) {
    gcrt__lock(&gt->lock);
    gt->waiters[gt->n++] = gcrt__getg();
    gcrt__park(gate_unlock, gt, GCRT_WAIT_CHAN_RECEIVE);
}
static int64_t gate_count(gate_t *gt) {
    gcrt__lock(&gt->lock);
    int64_t n = gt->n;
    gcrt__unlock(&gt->lock);
    return n;
}
static void gate_open(gate_t *gt) {
    gcrt__lock(&gt->lock);
    int64_t n = gt->n;
    gt->n = 0;
    gcrt__unlock(&gt->lock);
    for (int64_t i = 0; i < n; i++) gcrt__ready(gt->waiters[i]);
}

static int64_t finished;

#if defined(__SANITIZE_THREAD__)
/* TSan counts every goroutine's fiber as a thread (at most 8128). */
enum { NALIVE = 3000, CHURN = 1500, NTASKS = 3000 };
#else
enum { NALIVE = 100000, CHURN = 50000, NTASKS = 4000 };
#endif
static gate_t gate;

static void waiter(void *arg) {
    gate_wait(&gate);
    __atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
}

static void test_100k_alive(void) {
    gcrt__lock_init(&gate.lock, GCRT_RANK_CHAN);
    gate.waiters = malloc(sizeof(gcrt_g_t *) * NALIVE);
    __atomic_store_n(&finished, 0, __ATOMIC_RELAXED);
    size_t rss0 = gcrt__os_rss();
    int64_t t0 = gcrt_nanotime();
    for (int i = 0; i < NALIVE; i++) REQUIRE_TRUE(gcrt_go(waiter, NULL) > 0);
    while (gate_count(&gate) < NALIVE) usleep(1000);
    int64_t t1 = gcrt_nanotime();
    size_t rss1 = gcrt__os_rss();
    EXPECT_EQ(gcrt_num_goroutine(), NALIVE);
    gcrt_sched_stats_t st;
    gcrt_sched_read_stats(&st);
    fprintf(stderr,
            "100k parked: %.1f KiB RSS per goroutine, created+parked in %lld ms, %lld guarded + "
            "%lld packed stacks, stack inuse %llu MiB\n",
            (double)(rss1 - rss0) / NALIVE / 1024, (long long)(t1 - t0) / 1000000,
            (long long)st.stacks_guarded, (long long)st.stacks_unguarded,
            (unsigned long long)st.stack_inuse_bytes >> 20);
#if !defined(__SANITIZE_THREAD__)
    EXPECT_LE((rss1 - rss0) / NALIVE, 16384);
#endif
    /* A listing of all of them, and a stop-the-world with them parked. */
    int64_t dt = gcrt__stop_the_world("100k");
    gcrt__start_the_world();
    fprintf(stderr, "stop-the-world with 100k parked goroutines: %lld us\n", (long long)dt / 1000);
    gate_open(&gate);
    while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < NALIVE) usleep(1000);
    while (gcrt_num_goroutine() > 0) usleep(1000);
    free(gate.waiters);
}

/* ---- ping-pong pairs ---------------------------------------------------- */
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

/* GCRT_STRESS_ROUNDS: round trips per pair (default 20000). */
enum { NPAIRS = 64 };
static long rounds;
typedef struct {
    box_t ping, pong;
    int64_t sum;
} pair_t;
static pair_t pairs[NPAIRS];

static void pong_fn(void *arg) {
    pair_t *p = arg;
    for (long i = 0; i < rounds; i++) box_put(&p->pong, box_take(&p->ping) + 1);
}
static void ping_fn(void *arg) {
    pair_t *p = arg;
    int64_t s = 0;
    for (long i = 0; i < rounds; i++) {
        box_put(&p->ping, (int)i);
        s += box_take(&p->pong);
        if (i % 1000 == 0) gcrt_gosched(); /* move around */
    }
    p->sum = s;
    __atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
}

static void test_pingpong_pairs(void) {
    rounds = th_env_long("GCRT_STRESS_ROUNDS", 20000);
    __atomic_store_n(&finished, 0, __ATOMIC_RELAXED);
    for (int i = 0; i < NPAIRS; i++) {
        gcrt__lock_init(&pairs[i].ping.lock, GCRT_RANK_CHAN);
        gcrt__lock_init(&pairs[i].pong.lock, GCRT_RANK_CHAN);
        gcrt_go(pong_fn, &pairs[i]);
        gcrt_go(ping_fn, &pairs[i]);
    }
    while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < NPAIRS) usleep(1000);
    for (int i = 0; i < NPAIRS; i++)
        EXPECT_EQ(pairs[i].sum, (int64_t)rounds * (rounds - 1) / 2 + rounds);
}

/* ---- work stealing under imbalance ------------------------------------- */
static int task_tid[NTASKS];
static NOINLINE void burn(int us) {
    int64_t end = gcrt_nanotime() + us * 1000;
    while (gcrt_nanotime() < end) {
    }
}
static void task(void *arg) {
    intptr_t i = (intptr_t)arg;
    task_tid[i] = gcrt__os_gettid();
    burn(50);
    __atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
}
/* One goroutine makes all the work: it all lands on its P's queue (and
 * the global queue when that overflows); idle Ps must steal it. */
static void producer(void *arg) {
    for (intptr_t i = 0; i < NTASKS; i++) gcrt_go(task, (void *)i);
}

static void test_work_stealing(void) {
    if (gcrt_gomaxprocs(0) < 2) gcrt_gomaxprocs(2);
    __atomic_store_n(&finished, 0, __ATOMIC_RELAXED);
    gcrt_go(producer, NULL);
    while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < NTASKS) usleep(1000);
    int tids[64], ntids = 0;
    for (int i = 0; i < NTASKS; i++) {
        int k;
        for (k = 0; k < ntids && tids[k] != task_tid[i]; k++) {
        }
        if (k == ntids && ntids < 64) tids[ntids++] = task_tid[i];
    }
    EXPECT_GE(ntids, 2); /* the work spread over more than one M */
}

/* ---- churn with stop-the-world racing it -------------------------------- */
static void nop(void *arg) {
    __atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
}
static int churn_stop;
static void *stw_loop(void *arg) {
    gcrt_thread_attach();
    while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
        gcrt__stop_the_world("churn");
        gcrt__start_the_world();
        usleep(200);
    }
    gcrt_thread_detach();
    return NULL;
}
static void spawner(void *arg) {
    for (int i = 0; i < CHURN; i++) {
        gcrt_go(nop, NULL);
        if (i % 64 == 0) gcrt_gosched();
    }
}
static void test_churn_with_stw(void) {
    __atomic_store_n(&finished, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&churn_stop, 0, __ATOMIC_RELAXED);
    pthread_t t;
    pthread_create(&t, NULL, stw_loop, NULL);
    for (int i = 0; i < 4; i++) gcrt_go(spawner, NULL);
    while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < 4 * CHURN) usleep(1000);
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    while (gcrt_num_goroutine() > 0) usleep(1000);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_100k_alive);
    RUN(test_pingpong_pairs);
    RUN(test_work_stealing);
    RUN(test_churn_with_stw);
    return th_summary();
}
