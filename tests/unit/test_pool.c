/* test_pool.c - sync.Pool: Get/Put, New, the per-P private slot and
 * shared ring, stealing across Ps, the victim cache across GC cycles
 * (gcrt__pool_cleanup called directly, as the GC will), and concurrent
 * use without losing or duplicating objects. */
#include "pool.h"
#include "test_chan_util.h"

static int news;
static void *make_obj(void) {
    __atomic_add_fetch(&news, 1, __ATOMIC_SEQ_CST);
    return gcrt_alloc(32);
}

static void test_get_put_new(void) {
    /* A pool is registered with the runtime on first use (Go: never copy a
     * Pool): it must outlive the program, not live on the stack. */
    static gcrt_pool_t empty;
    EXPECT_PTR_EQ(gcrt_pool_get(&empty), NULL); /* no New: nil */
    gcrt_pool_put(&empty, NULL);                /* ignored */
    EXPECT_PTR_EQ(gcrt_pool_get(&empty), NULL);

    gcrt_pool_t *p = gcrt_pool_new(make_obj);
    news = 0;
    void *a = gcrt_pool_get(p);
    EXPECT_NE((uintptr_t)a, 0);
    EXPECT_EQ(news, 1);
    gcrt_pool_put(p, a);
    EXPECT_PTR_EQ(gcrt_pool_get(p), a); /* private slot */
    EXPECT_EQ(news, 1);
    /* Many objects: all come back (private first, then the ring, newest
     * first), none is made anew. */
    enum { N = 100 };
    void *objs[N];
    for (int i = 0; i < N; i++) objs[i] = gcrt_alloc(16);
    for (int i = 0; i < N; i++) gcrt_pool_put(p, objs[i]);
    size_t prim, vic;
    gcrt__pool_counts(p, &prim, &vic);
    EXPECT_EQ(prim, N);
    EXPECT_EQ(vic, 0);
    int found = 0;
    for (int i = 0; i < N; i++) {
        void *x = gcrt_pool_get(p);
        for (int j = 0; j < N; j++)
            if (objs[j] == x) {
                objs[j] = NULL;
                found++;
                break;
            }
    }
    EXPECT_EQ(found, N);
    EXPECT_EQ(news, 1);
    gcrt_pool_get(p); /* empty again: New */
    EXPECT_EQ(news, 2);
}

/* Go's TestPool: objects survive one GC in the victim cache and are gone
 * after two. */
static void test_victim_cache(void) {
    static gcrt_pool_t p = GCRT_POOL_INIT(NULL);
    void *x = gcrt_alloc(8), *y = gcrt_alloc(8), *z = gcrt_alloc(8);
    gcrt_pool_put(&p, x);
    gcrt_pool_put(&p, y);
    size_t prim, vic;
    EXPECT_TRUE(gcrt__pool_cleanup()); /* GC 1: primary -> victim */
    gcrt__pool_counts(&p, &prim, &vic);
    EXPECT_EQ(prim, 0);
    EXPECT_EQ(vic, 2);
    void *g1 = gcrt_pool_get(&p); /* served from the victim */
    EXPECT_TRUE(g1 == x || g1 == y);
    gcrt_pool_put(&p, z); /* new puts go to the primary */
    gcrt__pool_counts(&p, &prim, &vic);
    EXPECT_EQ(prim, 1);
    EXPECT_EQ(vic, 1);
    EXPECT_TRUE(gcrt__pool_cleanup()); /* GC 2: old victim dropped, z -> victim */
    gcrt__pool_counts(&p, &prim, &vic);
    EXPECT_EQ(prim, 0);
    EXPECT_EQ(vic, 1);
    EXPECT_PTR_EQ(gcrt_pool_get(&p), z);
    EXPECT_PTR_EQ(gcrt_pool_get(&p), NULL); /* the other of x, y is gone */
    EXPECT_TRUE(gcrt__pool_cleanup());
    EXPECT_TRUE(gcrt__pool_cleanup());
    gcrt__pool_counts(&p, &prim, &vic);
    EXPECT_EQ(prim + vic, 0);
    /* Unused pools need nothing. */
    EXPECT_PTR_EQ(gcrt_pool_get(&p), NULL);
}

/* Pooled objects are reachable through the pool: a collection keeps them
 * (whether it moves them to the victim cache or not). */
static GCRT_NOINLINE void fill_pool(gcrt_pool_t *p, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char *o = gcrt_alloc(40);
        memset(o, 0x40 + i, 40);
        gcrt_pool_put(p, o);
    }
}

static void test_gc_keeps_pooled(void) {
    static gcrt_pool_t p; /* zero value */
    enum { N = 20 };
    fill_pool(&p, N);
    gcrt_gc();
    for (int i = 0; i < 200; i++) memset(gcrt_alloc(40), 0xEE, 40);
    int got = 0, bad = 0;
    unsigned char *o;
    while ((o = gcrt_pool_get(&p)) != NULL) {
        got++;
        if (o[0] < 0x40 || o[0] >= 0x40 + N || o[39] != o[0]) bad++;
    }
    EXPECT_EQ(got, N);
    EXPECT_EQ(bad, 0);
}

static uint32_t num_gc(void) {
    static struct gcrt_memstats ms;
    gcrt_read_memstats(&ms);
    return ms.num_gc;
}

/* The collector itself empties pools through the victim cache (Go's
 * poolCleanup at each cycle's start): one cycle moves what was put to the
 * victim, where Get still finds it; the next drops it. */
static void test_gc_clears_through_victim(void) {
    static gcrt_pool_t p; /* zero value */
    enum { N = 10 };
    size_t prim, vic;
    fill_pool(&p, N);
    gcrt__pool_counts(&p, &prim, &vic);
    EXPECT_EQ(prim, N);
    EXPECT_EQ(vic, 0);
    uint32_t g0 = num_gc();
    gcrt_gc();
    gcrt__pool_counts(&p, &prim, &vic);
    EXPECT_EQ(prim, 0);
    if (num_gc() == g0 + 1) EXPECT_EQ(vic, N); /* else a heap-triggered cycle ran too */
    gcrt_gc();
    gcrt__pool_counts(&p, &prim, &vic);
    EXPECT_EQ(prim + vic, 0);
    EXPECT_PTR_EQ(gcrt_pool_get(&p), NULL);
}

/* An object put on one P is found by a Get on another (stealing). Plain
 * attached threads each hold a P of their own. */
struct steal_arg {
    gcrt_pool_t *p;
    void *got;
    int pid;
};
static void steal_get(void *arg) {
    struct steal_arg *a = arg;
    a->pid = gcrt__tls_m && gcrt__tls_m->p ? gcrt__tls_m->p->id : -1;
    a->got = gcrt_pool_get(a->p);
}

static void test_steal_other_p(void) {
    gcrt_pool_t *p = gcrt_pool_new(NULL);
    void *objs[4] = {gcrt_alloc(8), gcrt_alloc(8), gcrt_alloc(8), gcrt_alloc(8)};
    for (int i = 0; i < 4; i++) gcrt_pool_put(p, objs[i]);
    struct steal_arg a = {p, NULL, -1};
    /* The main thread's P holds them; a thread with another P steals one. */
    pthread_t t;
    int mypid = gcrt__tls_m->p->id;
    struct th_spawn_arg *sa = malloc(sizeof *sa);
    *sa = (struct th_spawn_arg){steal_get, &a};
    pthread_create(&t, NULL, th_thread_main, sa);
    pthread_join(t, NULL);
    EXPECT_NE(a.pid, mypid);
    /* objs[0] sits in the private slot; thieves take the ring's oldest. */
    EXPECT_PTR_EQ(a.got, objs[1]);
}

/* Concurrent Get/Put: every object is owned by at most one G at a time. */
struct obj {
    int owned;
    int pad[3];
};
struct conc_arg {
    gcrt_pool_t *p;
    int n;
    int *errors;
    gcrt_wg_t *wg;
};
static void *make_owned(void) {
    return gcrt_alloc(sizeof(struct obj));
}
static void pool_worker(void *arg) {
    struct conc_arg *a = arg;
    struct obj *mine[4];
    for (int i = 0; i < a->n; i++) {
        int k = 1 + i % 4;
        for (int j = 0; j < k; j++) {
            mine[j] = gcrt_pool_get(a->p);
            if (__atomic_exchange_n(&mine[j]->owned, 1, __ATOMIC_SEQ_CST) != 0)
                __atomic_add_fetch(a->errors, 1, __ATOMIC_SEQ_CST);
        }
        for (int j = 0; j < k; j++) {
            __atomic_store_n(&mine[j]->owned, 0, __ATOMIC_SEQ_CST);
            gcrt_pool_put(a->p, mine[j]);
        }
    }
    gcrt_wg_done(a->wg);
}

static void test_concurrent(void) {
    enum { W = 8 };
    int n = (int)th_env_long("TH_POOL_N", 20000);
    gcrt_pool_t *p = gcrt_pool_new(make_owned);
    int errors = 0;
    gcrt_wg_t wg = {0};
    struct conc_arg a = {p, n, &errors, &wg};
    gcrt_wg_add(&wg, W);
    for (int i = 0; i < W; i++) th_spawn(pool_worker, &a);
    gcrt_wg_wait(&wg);
    EXPECT_EQ(errors, 0);
    size_t prim, vic;
    gcrt__pool_counts(p, &prim, &vic);
    EXPECT_GT(prim, 0);
    EXPECT_LE(prim, (size_t)W * 4);
}

static void suite(void) {
    RUN(test_concurrent);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_get_put_new);
    RUN(test_victim_cache);
    RUN(test_steal_other_p);
    RUN(test_gc_keeps_pooled);
    RUN(test_gc_clears_through_victim);
    TH_RUN_BOTH_MODES(suite);
    return th_summary();
}
