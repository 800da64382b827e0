/* test_select.c - select: default, fairness among ready cases (statistical,
 * loose bounds, no timing), nil and closed channels, blocking selects woken
 * by a send/receive/close, the same channel in several cases, large
 * selects, and selects on both sides of the same channels under load. */
#include "test_chan_util.h"

static void do_select_send_closed(void *arg) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 1);
    gcrt_chan_close(c);
    int v = 1;
    struct gcrt_select_case cs[1] = {{c, GCRT_SELECT_SEND, &v, 0}};
    gcrt_select(cs, 1, true);
}
static void do_select_bad_dir(void *arg) {
    struct gcrt_select_case cs[1] = {{NULL, 7, NULL, 0}};
    gcrt_select(cs, 1, true);
}
static void sel_closer(void *arg) {
    gcrt_chan_t *c = arg;
    while (th_chan_waiters(c, true) == 0) usleep(100);
    gcrt_chan_close(c);
}
static void do_select_blocked_send_closed(void *arg) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0), *d = gcrt_chan_make(sizeof(int), 0);
    int v = 1, w;
    struct gcrt_select_case cs[2] = {{c, GCRT_SELECT_SEND, &v, 0}, {d, GCRT_SELECT_RECV, &w, 0}};
    th_spawn(sel_closer, c);
    gcrt_select(cs, 2, false);
}

static void test_panics(void) {
    th_expect_death(do_select_send_closed, NULL, "panic: send on closed channel\n", 2, 0);
    th_expect_death(do_select_blocked_send_closed, NULL, "panic: send on closed channel\n", 2, 0);
    th_expect_death(do_select_bad_dir, NULL, "fatal error: select: case 0 has bad direction 7", -1,
                    SIGABRT);
}

static void test_default_and_ready(void) {
    gcrt_chan_t *a = gcrt_chan_make(sizeof(int), 1), *b = gcrt_chan_make(sizeof(int), 0);
    int x = -1, y = 5;
    struct gcrt_select_case cs[3] = {{a, GCRT_SELECT_RECV, &x, 0},
                                     {b, GCRT_SELECT_SEND, &y, 0},
                                     {NULL, GCRT_SELECT_RECV, &x, 0}};
    EXPECT_EQ(gcrt_select(cs, 3, true), -1); /* nothing ready */
    EXPECT_EQ(x, -1);
    EXPECT_EQ(gcrt_select(NULL, 0, true), -1);
    gcrt_chan_send(a, &(int){42});
    EXPECT_EQ(gcrt_select(cs, 3, true), 0);
    EXPECT_EQ(x, 42);
    EXPECT_TRUE(cs[0].ok);
    /* Send case into a buffer. */
    struct gcrt_select_case s1[1] = {{a, GCRT_SELECT_SEND, &y, 0}};
    EXPECT_EQ(gcrt_select(s1, 1, false), 0);
    EXPECT_EQ(gcrt_chan_len(a), 1);
    EXPECT_EQ(gcrt_select(s1, 1, true), -1); /* full */
    /* Closed channel: ready, zero value, ok = false. */
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    gcrt_chan_close(c);
    struct gcrt_select_case s2[2] = {{NULL, GCRT_SELECT_SEND, &y, 0}, {c, GCRT_SELECT_RECV, &x, 1}};
    x = 9;
    EXPECT_EQ(gcrt_select(s2, 2, false), 1);
    EXPECT_EQ(x, 0);
    EXPECT_FALSE(s2[1].ok);
    /* Only nil channels, with default. */
    struct gcrt_select_case s3[2] = {{NULL, GCRT_SELECT_SEND, &y, 0},
                                     {NULL, GCRT_SELECT_RECV, &x, 0}};
    EXPECT_EQ(gcrt_select(s3, 2, true), -1);
}

/* Four always-ready cases: each is chosen about a quarter of the time.
 * Bounds are 15 standard deviations wide: they catch a bias, not noise. */
static void test_fairness(void) {
    enum { K = 4 };
    int n = (int)th_env_long("TH_FAIR_N", 40000);
    gcrt_chan_t *c[K];
    for (int i = 0; i < K; i++) {
        c[i] = gcrt_chan_make(sizeof(int), 1);
        gcrt_chan_send(c[i], &i);
    }
    int count[K] = {0};
    for (int r = 0; r < n; r++) {
        int v;
        struct gcrt_select_case cs[K];
        for (int i = 0; i < K; i++)
            cs[i] = (struct gcrt_select_case){c[i], GCRT_SELECT_RECV, &v, 0};
        int k = gcrt_select(cs, K, false);
        REQUIRE_TRUE(k >= 0 && k < K);
        EXPECT_EQ(v, k);
        count[k]++;
        gcrt_chan_send(c[k], &k); /* ready again */
    }
    double mean = n / (double)K, sd = 0.433 * __builtin_sqrt(n); /* sqrt(n p (1-p)) */
    for (int i = 0; i < K; i++) {
        EXPECT_GT(count[i], (int)(mean - 15 * sd));
        EXPECT_LT(count[i], (int)(mean + 15 * sd));
    }
    /* Mixed: a ready send and a ready receive on the same buffered channel
     * (one value in a buffer of two). */
    gcrt_chan_t *m = gcrt_chan_make(sizeof(int), 2);
    gcrt_chan_send(m, &(int){1});
    int sends = 0, v = 1;
    for (int r = 0; r < 10000; r++) {
        struct gcrt_select_case cs[2] = {{m, GCRT_SELECT_SEND, &v, 0},
                                         {m, GCRT_SELECT_RECV, &v, 0}};
        int k = gcrt_select(cs, 2, false);
        if (k == 0) {
            sends++;
            gcrt_chan_recv(m, NULL, NULL);
        } else {
            gcrt_chan_send(m, &v);
        }
    }
    EXPECT_GT(sends, 4000);
    EXPECT_LT(sends, 6000);
}

/* Many cases (the heap path above 16), each channel in several of them:
 * only one channel is ready, and one of its cases is chosen. At most 16
 * distinct channels: lock.c's rank checker (GCRT_ASSERT_LEVEL=2) tracks 16
 * held locks per thread, and a select holds one per distinct channel. */
static void test_large_select(void) {
    enum { N = 100, NC = 16 };
    gcrt_chan_t *c[NC];
    struct gcrt_select_case cs[N];
    int vals[N];
    for (int i = 0; i < NC; i++) c[i] = gcrt_chan_make(sizeof(int), 1);
    for (int i = 0; i < N; i++)
        cs[i] = (struct gcrt_select_case){c[i % NC], GCRT_SELECT_RECV, &vals[i], 0};
    int hits[N] = {0};
    for (int r = 0; r < 2000; r++) {
        int j = (r * 7) % NC;
        gcrt_chan_send(c[j], &r);
        int k = gcrt_select(cs, N, false);
        REQUIRE_TRUE(k >= 0 && k < N);
        EXPECT_EQ(k % NC, j);
        EXPECT_EQ(vals[k], r);
        hits[k]++;
    }
    int unused = 0; /* random choice among a channel's 6 or 7 cases */
    for (int i = 0; i < N; i++) unused += hits[i] == 0;
    EXPECT_EQ(unused, 0);
    EXPECT_EQ(gcrt_select(cs, N, true), -1);
}

/* ---- blocking selects ------------------------------------------------------ */

struct sel_arg {
    gcrt_chan_t *c[3];
    int dir;
    int chosen, val, ok;
    gcrt_g_t *volatile g;
    gcrt_wg_t *wg;
};

static void selector(void *p) {
    struct sel_arg *a = p;
    __atomic_store_n(&a->g, th_self(), __ATOMIC_RELEASE);
    int v[3] = {-1, -1, -1};
    int send = 1000;
    struct gcrt_select_case cs[3];
    for (int i = 0; i < 3; i++)
        cs[i] = (struct gcrt_select_case){a->c[i], a->dir,
                                          a->dir == GCRT_SELECT_SEND ? &send : &v[i], 0};
    a->chosen = gcrt_select(cs, 3, false);
    if (a->dir == GCRT_SELECT_RECV) {
        a->val = v[a->chosen];
        a->ok = cs[a->chosen].ok;
    }
    gcrt_wg_done(a->wg);
}

static void test_blocking_select_wakeups(void) {
    for (int how = 0; how < 3; how++) { /* woken by: send, close, receive */
        gcrt_wg_t wg = {0};
        struct sel_arg a = {{NULL, NULL, NULL},
                            how == 2 ? GCRT_SELECT_SEND : GCRT_SELECT_RECV,
                            -1,
                            -1,
                            -1,
                            NULL,
                            &wg};
        for (int i = 0; i < 3; i++) a.c[i] = gcrt_chan_make(sizeof(int), 0);
        gcrt_wg_add(&wg, 1);
        th_spawn(selector, &a);
        TH_WAIT_UNTIL(th_blocked_with(__atomic_load_n(&a.g, __ATOMIC_ACQUIRE), GCRT_WAIT_SELECT));
        EXPECT_STR_EQ(gcrt__wait_reason_string(a.g->waitreason), "select");
        for (int i = 0; i < 3; i++) EXPECT_EQ(th_chan_waiters(a.c[i], how == 2), 1);
        int v = 0;
        if (how == 0) gcrt_chan_send(a.c[1], &(int){77});
        if (how == 1) gcrt_chan_close(a.c[2]);
        if (how == 2) gcrt_chan_recv(a.c[0], &v, NULL);
        gcrt_wg_wait(&wg);
        if (how == 0) {
            EXPECT_EQ(a.chosen, 1);
            EXPECT_EQ(a.val, 77);
            EXPECT_EQ(a.ok, 1);
        } else if (how == 1) {
            EXPECT_EQ(a.chosen, 2);
            EXPECT_EQ(a.val, 0);
            EXPECT_EQ(a.ok, 0);
        } else {
            EXPECT_EQ(a.chosen, 0);
            EXPECT_EQ(v, 1000);
        }
        /* The losing cases' sudogs are gone from their queues. */
        for (int i = 0; i < 3; i++) {
            EXPECT_EQ(th_chan_waiters(a.c[i], true), 0);
            EXPECT_EQ(th_chan_waiters(a.c[i], false), 0);
        }
    }
}

/* One unbuffered channel in both a send and a receive case of the same
 * select, against a peer doing a plain operation. */
static void plain_sender(void *p) {
    struct sel_arg *a = p;
    gcrt_chan_send(a->c[0], &(int){5});
    gcrt_wg_done(a->wg);
}

static void test_same_channel_both_ways(void) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    gcrt_wg_t wg = {0};
    struct sel_arg a = {{c, NULL, NULL}, 0, 0, 0, 0, NULL, &wg};
    gcrt_wg_add(&wg, 1);
    th_spawn(plain_sender, &a);
    int out = 9, in = -1;
    struct gcrt_select_case cs[3] = {{c, GCRT_SELECT_SEND, &out, 0},
                                     {c, GCRT_SELECT_RECV, &in, 0},
                                     {c, GCRT_SELECT_RECV, &in, 0}};
    int k = gcrt_select(cs, 3, false);
    EXPECT_TRUE(k == 1 || k == 2);
    EXPECT_EQ(in, 5);
    gcrt_wg_wait(&wg);
    EXPECT_EQ(th_chan_waiters(c, true) + th_chan_waiters(c, false), 0);
}

/* Fan-in: producers close their channels when done; the consumer selects
 * over all and drops closed ones by setting the case's channel to NULL. */
struct fan_arg {
    gcrt_chan_t *c;
    int n;
};
static void fan_producer(void *p) {
    struct fan_arg *a = p;
    for (int i = 1; i <= a->n; i++) gcrt_chan_send(a->c, &i);
    gcrt_chan_close(a->c);
}

static void test_fan_in(void) {
    enum { P = 16 }; /* distinct channels: see test_large_select */
    int n = (int)th_env_long("TH_FAN_N", 2000);
    struct fan_arg a[P];
    struct gcrt_select_case cs[P];
    int v;
    for (int i = 0; i < P; i++) {
        a[i] = (struct fan_arg){gcrt_chan_make(sizeof(int), i % 3), n};
        cs[i] = (struct gcrt_select_case){a[i].c, GCRT_SELECT_RECV, &v, 0};
        th_spawn(fan_producer, &a[i]);
    }
    long sum[P] = {0};
    int open = P;
    while (open > 0) {
        int k = gcrt_select(cs, P, false);
        if (!cs[k].ok) {
            cs[k].ch = NULL;
            open--;
        } else {
            sum[k] += v;
        }
    }
    for (int i = 0; i < P; i++) EXPECT_EQ(sum[i], (long)n * (n + 1) / 2);
}

/* Selects on both sides: senders select over 4 channels, receivers select
 * over the same 4; every value arrives exactly once. */
struct hammer_arg {
    gcrt_chan_t **c;
    int n;
    long sum;
    gcrt_wg_t *wg;
};
static void hammer_sender(void *p) {
    struct hammer_arg *a = p;
    for (int i = 1; i <= a->n; i++) {
        struct gcrt_select_case cs[4];
        for (int j = 0; j < 4; j++)
            cs[j] = (struct gcrt_select_case){a->c[j], GCRT_SELECT_SEND, &i, 0};
        gcrt_select(cs, 4, false);
    }
    gcrt_wg_done(a->wg);
}
static void hammer_receiver(void *p) {
    struct hammer_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        int v = 0;
        struct gcrt_select_case cs[4];
        for (int j = 0; j < 4; j++)
            cs[j] = (struct gcrt_select_case){a->c[j], GCRT_SELECT_RECV, &v, 0};
        int k = gcrt_select(cs, 4, false);
        if (!cs[k].ok) abort();
        a->sum += v;
    }
    gcrt_wg_done(a->wg);
}

static void test_select_hammer(void) {
    enum { S = 4 };
    int n = (int)th_env_long("TH_HAMMER_N", 5000);
    gcrt_chan_t *c[4] = {gcrt_chan_make(sizeof(int), 0), gcrt_chan_make(sizeof(int), 0),
                         gcrt_chan_make(sizeof(int), 1), gcrt_chan_make(sizeof(int), 8)};
    gcrt_wg_t wg = {0};
    struct hammer_arg s[S], r[S];
    gcrt_wg_add(&wg, 2 * S);
    for (int i = 0; i < S; i++) {
        s[i] = (struct hammer_arg){c, n, 0, &wg};
        r[i] = (struct hammer_arg){c, n, 0, &wg};
        th_spawn(hammer_receiver, &r[i]);
        th_spawn(hammer_sender, &s[i]);
    }
    gcrt_wg_wait(&wg);
    long sum = 0;
    for (int i = 0; i < S; i++) sum += r[i].sum;
    EXPECT_EQ(sum, (long)S * n * (n + 1) / 2);
    for (int j = 0; j < 4; j++) EXPECT_EQ(gcrt_chan_len(c[j]), 0);
}

static void suite(void) {
    RUN(test_blocking_select_wakeups);
    RUN(test_same_channel_both_ways);
    RUN(test_fan_in);
    RUN(test_select_hammer);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_panics);
    RUN(test_default_and_ready);
    RUN(test_fairness);
    RUN(test_large_select);
    TH_RUN_BOTH_MODES(suite);
    return th_summary();
}
