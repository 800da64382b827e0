/* test_chan_stress.c - channels and sync at scale, with goroutines:
 * a 10,000-goroutine fan-out/fan-in, close waking 10,000 receivers, a
 * barrier of Mutex+Cond rounds, selects with quit channels and timeouts,
 * heap pointers passed through channels while the GC runs, and threads
 * and goroutines ping-ponging with each other. TH_STRESS_SCALE (default
 * 1) multiplies the sizes. Skipped (passes) without goroutines. */
#include "../unit/test_chan_util.h"

static long scale;

/* ---- fan-out / fan-in --------------------------------------------------- */

struct fan {
    gcrt_chan_t *jobs, *results;
    gcrt_wg_t *wg;
};
static void fan_worker(void *p) {
    struct fan *f = p;
    long j;
    while (gcrt_chan_recv(f->jobs, &j, NULL)) {
        long r = j * 2;
        gcrt_chan_send(f->results, &r);
    }
    gcrt_wg_done(f->wg);
}
static void results_closer(void *p) {
    struct fan *f = p;
    gcrt_wg_wait(f->wg);
    gcrt_chan_close(f->results);
}

struct feed_arg {
    gcrt_chan_t *c;
    long n;
    gcrt_wg_t *wg;
};
static void feeder(void *p) {
    struct feed_arg *a = p;
    for (long i = 0; i < a->n; i++) gcrt_chan_send(a->c, &i);
    gcrt_chan_close(a->c);
    gcrt_wg_done(a->wg);
}

static void test_fan_out_fan_in(void) {
    long workers = 10000 * scale, jobs = 100000 * scale;
    gcrt_wg_t wg = {0};
    struct fan f = {gcrt_chan_make(sizeof(long), 100), gcrt_chan_make(sizeof(long), 100), &wg};
    gcrt_wg_add(&wg, (int)workers);
    for (long i = 0; i < workers; i++) th_spawn(fan_worker, &f);
    th_spawn(results_closer, &f);
    gcrt_wg_t feed = {0};
    gcrt_wg_add(&feed, 1);
    struct feed_arg fa = {f.jobs, jobs, &feed};
    th_spawn(feeder, &fa);
    long sum = 0, count = 0, r;
    while (gcrt_chan_recv(f.results, &r, NULL)) sum += r, count++;
    gcrt_wg_wait(&feed);
    EXPECT_EQ(count, jobs);
    EXPECT_EQ(sum, jobs * (jobs - 1)); /* 2 * sum(0..jobs-1) */
}

/* ---- close wakes 10,000 ------------------------------------------------- */

struct waiter {
    gcrt_chan_t *c;
    gcrt_wg_t *wg;
    int *bad;
};
static void close_waiter(void *p) {
    struct waiter *w = p;
    int v = 5;
    bool ok = true;
    gcrt_chan_recv(w->c, &v, &ok);
    if (ok || v != 0) __atomic_add_fetch(w->bad, 1, __ATOMIC_RELAXED);
    gcrt_wg_done(w->wg);
}

static void test_close_wakes_many(void) {
    long n = 10000 * scale;
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    gcrt_wg_t wg = {0};
    int bad = 0;
    struct waiter w = {c, &wg, &bad};
    gcrt_wg_add(&wg, (int)n);
    for (long i = 0; i < n; i++) th_spawn(close_waiter, &w);
    TH_WAIT_UNTIL(th_chan_waiters(c, false) == n);
    gcrt_chan_close(c);
    gcrt_wg_wait(&wg);
    EXPECT_EQ(bad, 0);
}

/* ---- Mutex + Cond barrier ------------------------------------------------ */

struct barrier {
    gcrt_mutex_t m;
    gcrt_cond_t c;
    int n, arrived, round;
    long total;
};
struct bar_arg {
    struct barrier *b;
    int rounds;
    gcrt_wg_t *wg;
};
static void barrier_worker(void *p) {
    struct bar_arg *a = p;
    struct barrier *b = a->b;
    for (int r = 0; r < a->rounds; r++) {
        gcrt_mutex_lock(&b->m);
        b->total++;
        if (++b->arrived == b->n) {
            b->arrived = 0;
            b->round++;
            gcrt_cond_broadcast(&b->c);
        } else {
            int my = b->round;
            while (b->round == my) gcrt_cond_wait(&b->c, &b->m);
        }
        gcrt_mutex_unlock(&b->m);
    }
    gcrt_wg_done(a->wg);
}

static void test_barrier_rounds(void) {
    int n = (int)(500 * scale), rounds = 100;
    static struct barrier b;
    memset(&b, 0, sizeof b);
    b.n = n;
    gcrt_wg_t wg = {0};
    struct bar_arg a = {&b, rounds, &wg};
    gcrt_wg_add(&wg, n);
    for (int i = 0; i < n; i++) th_spawn(barrier_worker, &a);
    gcrt_wg_wait(&wg);
    EXPECT_EQ(b.round, rounds);
    EXPECT_EQ(b.total, (long)n * rounds);
}

/* ---- select with quit and timeouts ------------------------------------- */

struct sq {
    gcrt_chan_t *data, *quit;
    long *received, *timeouts;
    gcrt_wg_t *wg;
};
static void sq_consumer(void *p) {
    struct sq *q = p;
    long got = 0, to = 0;
    for (;;) {
        long v;
        struct gcrt_select_case cs[3] = {{q->data, GCRT_SELECT_RECV, &v, 0},
                                         {q->quit, GCRT_SELECT_RECV, NULL, 0},
                                         {gcrt_chan_after(200000), GCRT_SELECT_RECV, NULL, 0}};
        int k = gcrt_select(cs, 3, false);
        if (k == 0) got++;
        if (k == 1) break;
        if (k == 2) to++;
    }
    __atomic_add_fetch(q->received, got, __ATOMIC_RELAXED);
    __atomic_add_fetch(q->timeouts, to, __ATOMIC_RELAXED);
    gcrt_wg_done(q->wg);
}
static void sq_producer(void *p) {
    struct sq *q = p;
    for (long i = 0; i < 2000; i++) {
        gcrt_chan_send(q->data, &i);
        if (i % 500 == 0) gcrt_sleep(300000); /* let timeouts happen */
    }
    gcrt_wg_done(q->wg);
}

static void test_select_quit_timeouts(void) {
    int P = 8, C = 32;
    long received = 0, timeouts = 0;
    gcrt_wg_t pw = {0}, cw = {0};
    struct sq qp = {gcrt_chan_make(sizeof(long), 4), gcrt_chan_make(0, 0), &received, &timeouts,
                    &pw};
    struct sq qc = qp;
    qc.wg = &cw;
    gcrt_wg_add(&pw, P);
    gcrt_wg_add(&cw, C);
    for (int i = 0; i < C; i++) th_spawn(sq_consumer, &qc);
    for (int i = 0; i < P; i++) th_spawn(sq_producer, &qp);
    gcrt_wg_wait(&pw);
    /* Drained? Then quit. */
    TH_WAIT_UNTIL(gcrt_chan_len(qp.data) == 0 && th_chan_waiters(qp.data, true) == 0);
    gcrt_chan_close(qp.quit);
    gcrt_wg_wait(&cw);
    EXPECT_EQ(received, (long)P * 2000);
    EXPECT_GT(timeouts, 0);
}

/* ---- pointers through channels while collecting ------------------------- */

struct gcp {
    gcrt_chan_t *c;
    int n;
    int *bad;
    gcrt_wg_t *wg;
};
static void gc_producer(void *p) {
    struct gcp *a = p;
    for (int i = 0; i < a->n; i++) {
        uint64_t *o = gcrt_alloc(64);
        for (int j = 0; j < 8; j++) o[j] = (uint64_t)(uintptr_t)o ^ (uint64_t)j;
        gcrt_chan_send(a->c, &o);
    }
    gcrt_wg_done(a->wg);
}
static void gc_consumer(void *p) {
    struct gcp *a = p;
    uint64_t *o;
    while (gcrt_chan_recv(a->c, &o, NULL)) {
        for (int j = 0; j < 8; j++)
            if (o[j] != ((uint64_t)(uintptr_t)o ^ (uint64_t)j)) {
                __atomic_add_fetch(a->bad, 1, __ATOMIC_RELAXED);
                break;
            }
        memset(gcrt_alloc(64), 0xEE, 64); /* reuse freed slots quickly */
    }
    gcrt_wg_done(a->wg);
}

static void test_gc_during_traffic(void) {
    int P = 8, C = 8, n = (int)(20000 * scale);
    int bad = 0;
    gcrt_wg_t pw = {0}, cw = {0};
    gcrt_chan_t *c = gcrt_chan_make(sizeof(void *), 256);
    struct gcp pa = {c, n, &bad, &pw}, ca = {c, n, &bad, &cw};
    gcrt_wg_add(&pw, P);
    gcrt_wg_add(&cw, C);
    for (int i = 0; i < C; i++) th_spawn(gc_consumer, &ca);
    for (int i = 0; i < P; i++) th_spawn(gc_producer, &pa);
    int gcs = 0;
    for (;;) { /* collect until the producers are done */
        gcrt_gc();
        gcs++;
        struct gcrt_select_case cs[1] = {{gcrt_chan_after(2000000), GCRT_SELECT_RECV, NULL, 0}};
        gcrt_select(cs, 1, false);
        if (__atomic_load_n(&pw.state, __ATOMIC_ACQUIRE) >> 32 == 0) break;
    }
    gcrt_wg_wait(&pw);
    gcrt_chan_close(c);
    gcrt_wg_wait(&cw);
    EXPECT_EQ(bad, 0);
    EXPECT_GT(gcs, 0);
}

/* ---- threads and goroutines together ------------------------------------ */

struct mix {
    gcrt_chan_t *to, *from;
    int n;
    gcrt_wg_t *wg;
};
static void mix_echo(void *p) { /* goroutine */
    struct mix *m = p;
    int v;
    while (gcrt_chan_recv(m->to, &v, NULL)) {
        v++;
        gcrt_chan_send(m->from, &v);
    }
    gcrt_wg_done(m->wg);
}
static void *mix_thread(void *p) {
    struct mix *m = p;
    gcrt_thread_attach();
    int v = 0;
    for (int i = 0; i < m->n; i++) {
        gcrt_chan_send(m->to, &v);
        gcrt_chan_recv(m->from, &v, NULL);
    }
    if (v != m->n) abort();
    gcrt_chan_close(m->to);
    gcrt_thread_detach();
    return NULL;
}

static void test_threads_and_goroutines(void) {
    enum { T = 4 };
    int n = (int)(20000 * scale);
    gcrt_wg_t wg = {0};
    struct mix m[T];
    pthread_t th[T];
    gcrt_wg_add(&wg, T);
    for (int i = 0; i < T; i++) {
        m[i] = (struct mix){gcrt_chan_make(sizeof(int), 0), gcrt_chan_make(sizeof(int), i % 2), n,
                            &wg};
        th_spawn(mix_echo, &m[i]); /* th_mode_go = 1: a goroutine */
        pthread_create(&th[i], NULL, mix_thread, &m[i]);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    gcrt_wg_wait(&wg);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    scale = th_env_long("TH_STRESS_SCALE", 1);
    if (&gcrt_go == NULL) {
        printf("%s: no goroutines yet, skipped\n", __FILE__);
        return 0;
    }
    th_mode_go = 1;
    RUN(test_fan_out_fan_in);
    RUN(test_close_wakes_many);
    RUN(test_barrier_rounds);
    RUN(test_select_quit_timeouts);
    RUN(test_gc_during_traffic);
    RUN(test_threads_and_goroutines);
    return th_summary();
}
