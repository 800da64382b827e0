/* test_chan.c - channel semantics, the cases Go's chan_test.go covers:
 * FIFO order, buffered and unbuffered, len/cap, receive ok flag, close
 * waking every receiver, nil channels, wait reasons, ping-pong, and Go's
 * panics (in forked children). Runs with threads, then with goroutines. */
#include "test_chan_util.h"

/* ---- panics (first: fork before any worker exists) ---------------------- */

static void do_send_closed(void *arg) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 1);
    gcrt_chan_close(c);
    int v = 1;
    gcrt_chan_send(c, &v);
}
static void do_close_closed(void *arg) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    gcrt_chan_close(c);
    gcrt_chan_close(c);
}
static void do_close_nil(void *arg) {
    gcrt_chan_close(NULL);
}
static void do_try_send_closed(void *arg) {
    gcrt_chan_t *c = gcrt_chan_make(0, 0);
    gcrt_chan_close(c);
    gcrt_chan_try_send(c, NULL);
}
static void closer_later(void *arg) {
    gcrt_chan_t *c = arg;
    while (th_chan_waiters(c, true) == 0) usleep(100);
    gcrt_chan_close(c);
}
static void do_blocked_send_then_close(void *arg) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    th_spawn(closer_later, c);
    int v = 7;
    gcrt_chan_send(c, &v); /* panics when the close wakes it */
}
static void do_huge_make(void *arg) {
    gcrt_chan_make(1024, (size_t)1 << 60);
}
static void do_big_elem(void *arg) {
    gcrt_chan_make(1 << 16, 1);
}

static void test_panics(void) {
    th_expect_death(do_send_closed, NULL, "panic: send on closed channel\n", 2, 0);
    th_expect_death(do_close_closed, NULL, "panic: close of closed channel\n", 2, 0);
    th_expect_death(do_close_nil, NULL, "panic: close of nil channel\n", 2, 0);
    th_expect_death(do_try_send_closed, NULL, "panic: send on closed channel\n", 2, 0);
    th_expect_death(do_blocked_send_then_close, NULL, "panic: send on closed channel\n", 2, 0);
    th_expect_death(do_huge_make, NULL, "panic: makechan: size out of range\n", 2, 0);
    th_expect_death(do_big_elem, NULL, "fatal error: makechan: invalid channel element type", -1,
                    SIGABRT);
}

/* ---- single-threaded semantics ------------------------------------------ */

static void test_buffered_basics(void) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 4);
    EXPECT_EQ(gcrt_chan_cap(c), 4);
    EXPECT_EQ(gcrt_chan_len(c), 0);
    for (int i = 0; i < 4; i++) EXPECT_TRUE(gcrt_chan_try_send(c, &i));
    int x = 99;
    EXPECT_FALSE(gcrt_chan_try_send(c, &x)); /* full */
    EXPECT_EQ(gcrt_chan_len(c), 4);
    for (int i = 0; i < 4; i++) { /* FIFO */
        bool ok = false;
        int v = -1;
        EXPECT_TRUE(gcrt_chan_recv(c, &v, &ok));
        EXPECT_EQ(v, i);
        EXPECT_TRUE(ok);
    }
    bool ok = true;
    EXPECT_FALSE(gcrt_chan_try_recv(c, &x, &ok)); /* empty */
    EXPECT_TRUE(ok);                              /* untouched */
    /* Wraparound. */
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 3; i++) gcrt_chan_send(c, &(int){round * 10 + i});
        for (int i = 0; i < 3; i++) {
            int v;
            gcrt_chan_recv(c, &v, NULL);
            EXPECT_EQ(v, round * 10 + i);
        }
    }
}

static void test_recv_ok_flag(void) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(long), 3);
    gcrt_chan_send(c, &(long){5});
    gcrt_chan_send(c, &(long){6});
    gcrt_chan_close(c);
    long v = 0;
    bool ok = false;
    /* Buffered values survive the close. */
    EXPECT_TRUE(gcrt_chan_recv(c, &v, &ok));
    EXPECT_EQ(v, 5);
    EXPECT_TRUE(gcrt_chan_try_recv(c, &v, &ok));
    EXPECT_EQ(v, 6);
    EXPECT_TRUE(ok);
    for (int i = 0; i < 3; i++) { /* then the zero value, ok = false, forever */
        v = 77;
        ok = true;
        EXPECT_FALSE(gcrt_chan_recv(c, &v, &ok));
        EXPECT_EQ(v, 0);
        EXPECT_FALSE(ok);
        v = 77;
        ok = true;
        EXPECT_TRUE(gcrt_chan_try_recv(c, &v, &ok)); /* ready: it does not block */
        EXPECT_EQ(v, 0);
        EXPECT_FALSE(ok);
    }
    EXPECT_EQ(gcrt_chan_len(c), 0);
    EXPECT_EQ(gcrt_chan_cap(c), 3);
    gcrt_chan_t *u = gcrt_chan_make(sizeof(int), 0);
    gcrt_chan_close(u);
    EXPECT_FALSE(gcrt_chan_recv(u, NULL, NULL)); /* out may be NULL */
}

static void test_nil_nonblocking(void) {
    int v = 1;
    bool ok = true;
    EXPECT_FALSE(gcrt_chan_try_send(NULL, &v));
    EXPECT_FALSE(gcrt_chan_try_recv(NULL, &v, &ok));
    EXPECT_EQ(gcrt_chan_len(NULL), 0);
    EXPECT_EQ(gcrt_chan_cap(NULL), 0);
    gcrt_chan_t *u = gcrt_chan_make(sizeof(int), 0);
    EXPECT_FALSE(gcrt_chan_try_send(u, &v)); /* nobody receiving */
    EXPECT_FALSE(gcrt_chan_try_recv(u, &v, &ok));
    EXPECT_EQ(gcrt_chan_cap(u), 0);
}

static void test_big_and_empty_elements(void) {
    struct big {
        char b[1000];
    } in, out;
    gcrt_chan_t *c = gcrt_chan_make(sizeof(struct big), 2);
    for (int i = 0; i < 2; i++) {
        memset(in.b, 'a' + i, sizeof in.b);
        gcrt_chan_send(c, &in);
    }
    for (int i = 0; i < 2; i++) {
        gcrt_chan_recv(c, &out, NULL);
        EXPECT_EQ(out.b[0], 'a' + i);
        EXPECT_EQ(out.b[999], 'a' + i);
    }
    gcrt_chan_t *e = gcrt_chan_make(0, 2); /* chan struct{} */
    EXPECT_TRUE(gcrt_chan_try_send(e, NULL));
    EXPECT_TRUE(gcrt_chan_try_send(e, NULL));
    EXPECT_FALSE(gcrt_chan_try_send(e, NULL));
    EXPECT_EQ(gcrt_chan_len(e), 2);
    EXPECT_TRUE(gcrt_chan_recv(e, NULL, NULL));
    /* A chan struct{} too large for a ring's sequence words (2^45 slots of
     * 8 bytes) keeps Go's counters and costs no buffer. */
    gcrt_chan_t *h = gcrt_chan_make(0, (size_t)1 << 45);
    EXPECT_EQ(gcrt_chan_cap(h), (size_t)1 << 45);
    for (int i = 0; i < 3; i++) EXPECT_TRUE(gcrt_chan_try_send(h, NULL));
    gcrt_chan_send(h, NULL);
    EXPECT_EQ(gcrt_chan_len(h), 4);
    bool ok = false;
    EXPECT_TRUE(gcrt_chan_try_recv(h, NULL, &ok));
    EXPECT_TRUE(ok);
    gcrt_chan_close(h);
    for (int i = 0; i < 3; i++) EXPECT_TRUE(gcrt_chan_recv(h, NULL, NULL));
    EXPECT_FALSE(gcrt_chan_recv(h, NULL, NULL));
    EXPECT_EQ(gcrt_chan_len(h), 0);
    /* The channel is a GC-heap object. */
    EXPECT_TRUE(gcrt_find_object(c, &(void *){0}, &(size_t){0}));
}

/* Pointers held only by a channel's buffer (and by a blocked sender's
 * element) survive a collection: the channel is a scanned object. */
enum { GC_N = 64, GC_SZ = 48 };

static GCRT_NOINLINE void fill_channel(gcrt_chan_t *c, int n, int tag) {
    for (int i = 0; i < n; i++) {
        unsigned char *p = gcrt_alloc(GC_SZ);
        memset(p, tag + i, GC_SZ);
        gcrt_chan_send(c, &p);
    }
}

static GCRT_NOINLINE void churn(void) { /* reuses whatever the GC freed */
    for (int i = 0; i < 4 * GC_N; i++) memset(gcrt_alloc(GC_SZ), 0xEE, GC_SZ);
}

static bool check_obj(unsigned char *p, int want) {
    for (int j = 0; j < GC_SZ; j++)
        if (p[j] != (unsigned char)want) return false;
    return true;
}

static void test_gc_keeps_buffered_values(void) {
    gcrt_chan_t *c = gcrt_chan_make(sizeof(void *), GC_N);
    fill_channel(c, GC_N, 1);
    gcrt_gc();
    churn();
    gcrt_gc();
    churn();
    int bad = 0;
    for (int i = 0; i < GC_N; i++) {
        unsigned char *p = NULL;
        gcrt_chan_recv(c, &p, NULL);
        if (!p || !gcrt_find_object(p, &(void *){0}, &(size_t){0}) || !check_obj(p, 1 + i)) bad++;
    }
    EXPECT_EQ(bad, 0);
}

/* ---- concurrency ---------------------------------------------------------- */

struct seq_arg {
    gcrt_chan_t *c;
    int n, base;
    gcrt_wg_t *wg;
};

static void sender_seq(void *p) {
    struct seq_arg a = *(struct seq_arg *)p; /* *p dies with the last receive */
    for (int i = 0; i < a.n; i++) gcrt_chan_send(a.c, &(int){a.base + i});
    if (a.wg) gcrt_wg_done(a.wg);
}

static void test_order_unbuffered_and_buffered(void) {
    size_t caps[] = {0, 1, 7, 100};
    for (size_t k = 0; k < 4; k++) {
        gcrt_chan_t *c = gcrt_chan_make(sizeof(int), caps[k]);
        struct seq_arg a = {c, 20000, 0, NULL};
        th_spawn(sender_seq, &a);
        int bad = 0;
        for (int i = 0; i < a.n; i++) {
            int v;
            bool ok;
            gcrt_chan_recv(c, &v, &ok);
            if (v != i || !ok) bad++;
        }
        EXPECT_EQ(bad, 0);
    }
}

/* Waiting senders are served first in, first out (sender i queues only
 * after sender i-1 is queued). */
static void test_fifo_waiting_senders(void) {
    size_t caps[] = {0, 2};
    for (size_t k = 0; k < 2; k++) {
        gcrt_chan_t *c = gcrt_chan_make(sizeof(int), caps[k]);
        int base = (int)caps[k];
        for (int i = 0; i < base; i++) gcrt_chan_send(c, &(int){i});
        struct seq_arg a[8];
        for (int i = 0; i < 8; i++) {
            a[i] = (struct seq_arg){c, 1, base + i, NULL};
            th_spawn(sender_seq, &a[i]);
            TH_WAIT_UNTIL(th_chan_waiters(c, true) == i + 1);
        }
        for (int i = 0; i < base + 8; i++) {
            int v = -1;
            gcrt_chan_recv(c, &v, NULL);
            EXPECT_EQ(v, i);
        }
    }
}

struct recv_arg {
    gcrt_chan_t *c;
    int got, ok;
    gcrt_g_t *g;
    gcrt_wg_t *wg;
};

static void receiver_once(void *p) {
    struct recv_arg *a = p;
    __atomic_store_n(&a->g, th_self(), __ATOMIC_RELEASE);
    bool ok;
    a->got = 123;
    gcrt_chan_recv(a->c, &a->got, &ok);
    a->ok = ok;
    gcrt_wg_done(a->wg);
}

static void test_close_wakes_all_receivers(void) {
    enum { K = 16 };
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    gcrt_wg_t wg = {0};
    struct recv_arg a[K];
    gcrt_wg_add(&wg, K);
    for (int i = 0; i < K; i++) {
        a[i] = (struct recv_arg){c, -1, -1, NULL, &wg};
        th_spawn(receiver_once, &a[i]);
    }
    TH_WAIT_UNTIL(th_chan_waiters(c, false) == K);
    for (int i = 0; i < K; i++) {
        EXPECT_TRUE(th_blocked_with(a[i].g, GCRT_WAIT_CHAN_RECEIVE));
        EXPECT_STR_EQ(gcrt__wait_reason_string(a[i].g->waitreason), "chan receive");
    }
    gcrt_chan_close(c);
    gcrt_wg_wait(&wg);
    for (int i = 0; i < K; i++) {
        EXPECT_EQ(a[i].got, 0);
        EXPECT_EQ(a[i].ok, 0);
    }
}

struct blocker_arg {
    gcrt_chan_t *c;
    int what; /* 0 recv, 1 send, 2 select no cases, 3 select of nil chans */
    gcrt_g_t *volatile g;
};

static void blocker(void *p) {
    struct blocker_arg *a = p;
    __atomic_store_n(&a->g, th_self(), __ATOMIC_RELEASE);
    int v = 1;
    struct gcrt_select_case cs[2] = {{NULL, GCRT_SELECT_RECV, &v, 0},
                                     {NULL, GCRT_SELECT_SEND, &v, 0}};
    switch (a->what) {
    case 0:
        gcrt_chan_recv(a->c, &v, NULL);
        break;
    case 1:
        gcrt_chan_send(a->c, &v);
        break;
    case 2:
        gcrt_select(NULL, 0, false);
        break;
    case 3:
        gcrt_select(cs, 2, false);
        break;
    }
}

/* Blocks forever with Go's wait reasons; the Gs stay blocked until exit. */
static void test_block_forever_reasons(void) {
    static struct blocker_arg a[2][6]; /* live until exit */
    struct blocker_arg *b = a[th_mode_go];
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    b[0] = (struct blocker_arg){NULL, 0, NULL};
    b[1] = (struct blocker_arg){NULL, 1, NULL};
    b[2] = (struct blocker_arg){NULL, 2, NULL};
    b[3] = (struct blocker_arg){NULL, 3, NULL};
    b[4] = (struct blocker_arg){c, 1, NULL}; /* unblocked below */
    unsigned want[] = {GCRT_WAIT_CHAN_RECEIVE_NIL_CHAN, GCRT_WAIT_CHAN_SEND_NIL_CHAN,
                       GCRT_WAIT_SELECT_NO_CASES, GCRT_WAIT_SELECT, GCRT_WAIT_CHAN_SEND};
    const char *names[] = {"chan receive (nil chan)", "chan send (nil chan)", "select (no cases)",
                           "select", "chan send"};
    for (int i = 0; i < 5; i++) th_spawn(blocker, &b[i]);
    for (int i = 0; i < 5; i++) {
        TH_WAIT_UNTIL(th_blocked_with(__atomic_load_n(&b[i].g, __ATOMIC_ACQUIRE), want[i]));
        EXPECT_STR_EQ(gcrt__wait_reason_string(b[i].g->waitreason), names[i]);
        EXPECT_GT(b[i].g->waitsince, 0);
    }
    int v = 0;
    gcrt_chan_recv(c, &v, NULL);
    EXPECT_EQ(v, 1);
}

struct pp_arg {
    gcrt_chan_t *in, *out;
    int n;
    gcrt_wg_t *wg;
};

static void ponger(void *p) {
    struct pp_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        int v;
        gcrt_chan_recv(a->in, &v, NULL);
        v++;
        gcrt_chan_send(a->out, &v);
    }
    gcrt_wg_done(a->wg);
}

static void pinger(void *p) {
    struct pp_arg *a = p;
    int v = 0;
    for (int i = 0; i < a->n; i++) {
        gcrt_chan_send(a->out, &v);
        gcrt_chan_recv(a->in, &v, NULL);
    }
    if (v != a->n) fprintf(stderr, "pinger: v = %d, want %d\n", v, a->n), abort();
    gcrt_wg_done(a->wg);
}

static void test_ping_pong_pairs(void) {
    enum { PAIRS = 8 };
    int n = (int)th_env_long("TH_PINGPONG", 5000);
    gcrt_wg_t wg = {0};
    struct pp_arg a[PAIRS][2];
    gcrt_wg_add(&wg, 2 * PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        gcrt_chan_t *x = gcrt_chan_make(sizeof(int), 0), *y = gcrt_chan_make(sizeof(int), i % 2);
        a[i][0] = (struct pp_arg){y, x, n, &wg};
        a[i][1] = (struct pp_arg){x, y, n, &wg};
        th_spawn(pinger, &a[i][0]);
        th_spawn(ponger, &a[i][1]);
    }
    gcrt_wg_wait(&wg);
}

/* A ring of G's passing a token around: every hop is a hand-off. */
static void test_ring(void) {
    enum { R = 32 };
    int laps = (int)th_env_long("TH_RING_LAPS", 300);
    gcrt_chan_t *ch[R];
    for (int i = 0; i < R; i++) ch[i] = gcrt_chan_make(sizeof(int), 0);
    gcrt_wg_t wg = {0};
    struct pp_arg a[R];
    gcrt_wg_add(&wg, R - 1);
    for (int i = 1; i < R; i++) {
        a[i] = (struct pp_arg){ch[i - 1], ch[i], laps, &wg};
        th_spawn(ponger, &a[i]);
    }
    int v = 0;
    for (int l = 0; l < laps; l++) {
        gcrt_chan_send(ch[0], &v);
        gcrt_chan_recv(ch[R - 1], &v, NULL);
    }
    /* ponger 1 reads ch[0]; ch[0] is fed by us: token grows by R-1 a lap. */
    EXPECT_EQ(v, laps * (R - 1));
    gcrt_wg_wait(&wg);
}

/* Many producers and consumers on one buffered channel, then close: every
 * value arrives exactly once. */
struct mpmc_arg {
    gcrt_chan_t *c;
    int n;
    long sum, count;
    gcrt_wg_t *wg;
};
static void mpmc_consumer(void *p) {
    struct mpmc_arg *a = p;
    int v;
    while (gcrt_chan_recv(a->c, &v, NULL)) {
        a->sum += v;
        a->count++;
    }
    gcrt_wg_done(a->wg);
}
static void mpmc_producer(void *p) {
    struct mpmc_arg *a = p;
    for (int i = 1; i <= a->n; i++) gcrt_chan_send(a->c, &i);
    gcrt_wg_done(a->wg);
}

static void test_mpmc_close(void) {
    enum { P = 6, C = 6 };
    int n = (int)th_env_long("TH_MPMC", 5000);
    size_t caps[] = {0, 16};
    for (int k = 0; k < 2; k++) {
        gcrt_chan_t *c = gcrt_chan_make(sizeof(int), caps[k]);
        gcrt_wg_t pw = {0}, cw = {0};
        struct mpmc_arg pa[P], ca[C];
        gcrt_wg_add(&pw, P);
        gcrt_wg_add(&cw, C);
        for (int i = 0; i < C; i++) {
            ca[i] = (struct mpmc_arg){c, 0, 0, 0, &cw};
            th_spawn(mpmc_consumer, &ca[i]);
        }
        for (int i = 0; i < P; i++) {
            pa[i] = (struct mpmc_arg){c, n, 0, 0, &pw};
            th_spawn(mpmc_producer, &pa[i]);
        }
        gcrt_wg_wait(&pw);
        gcrt_chan_close(c);
        gcrt_wg_wait(&cw);
        long sum = 0, count = 0;
        for (int i = 0; i < C; i++) sum += ca[i].sum, count += ca[i].count;
        EXPECT_EQ(count, (long)P * n);
        EXPECT_EQ(sum, (long)P * n * (n + 1) / 2);
    }
}

/* Buffered channels are lock-free rings while nobody waits (chan.c, step
 * 6). Producers and consumers mix blocking, non-blocking and select
 * operations at capacities 1, 3 (an index by multiplication) and 64 (by
 * mask), then the channel is closed with values still buffered: every
 * value arrives exactly once, each consumer sees each producer's values in
 * the order sent, and len never exceeds cap. */
enum { MIX_P = 4, MIX_C = 4 };
struct mix_arg {
    gcrt_chan_t *c, *never;
    int id, n;
    long sum, count, bad;
    gcrt_wg_t *wg;
};
static void mix_producer(void *p) {
    struct mix_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        long v = (long)a->id << 32 | i;
        if (i % 3 == 0) {
            gcrt_chan_send(a->c, &v);
        } else if (i % 3 == 1) {
            while (!gcrt_chan_try_send(a->c, &v)) th_yield();
        } else {
            struct gcrt_select_case cs[2] = {{a->never, GCRT_SELECT_RECV, NULL, 0},
                                             {a->c, GCRT_SELECT_SEND, &v, 0}};
            if (gcrt_select(cs, 2, false) != 1) a->bad++;
        }
        if (gcrt_chan_len(a->c) > gcrt_chan_cap(a->c)) a->bad++;
    }
    gcrt_wg_done(a->wg);
}
static void mix_consumer(void *p) {
    struct mix_arg *a = p;
    int last[MIX_P];
    for (int i = 0; i < MIX_P; i++) last[i] = -1;
    for (int k = 0;; k++) {
        long v = -1;
        bool ok = false;
        if (k % 3 == 0) {
            gcrt_chan_recv(a->c, &v, &ok);
        } else if (k % 3 == 1) {
            while (!gcrt_chan_try_recv(a->c, &v, &ok)) th_yield();
        } else {
            struct gcrt_select_case cs[2] = {{a->never, GCRT_SELECT_RECV, NULL, 0},
                                             {a->c, GCRT_SELECT_RECV, &v, 0}};
            if (gcrt_select(cs, 2, false) != 1) a->bad++;
            ok = cs[1].ok;
        }
        if (!ok) break;
        int id = (int)(v >> 32), i = (int)(v & 0xffffffff);
        if (id < 0 || id >= MIX_P || i <= last[id]) {
            a->bad++;
            continue;
        }
        last[id] = i;
        a->sum += i;
        a->count++;
    }
    gcrt_wg_done(a->wg);
}

static void test_buffered_ring_mix(void) {
    int n = (int)th_env_long("TH_RING_MIX", 3000);
    size_t caps[] = {1, 3, 64};
    for (int k = 0; k < 3; k++) {
        gcrt_chan_t *c = gcrt_chan_make(sizeof(long), caps[k]);
        gcrt_chan_t *never = gcrt_chan_make(0, 0);
        gcrt_wg_t pw = {0}, cw = {0};
        struct mix_arg pa[MIX_P], ca[MIX_C];
        gcrt_wg_add(&pw, MIX_P);
        gcrt_wg_add(&cw, MIX_C);
        for (int i = 0; i < MIX_C; i++) {
            ca[i] = (struct mix_arg){c, never, i, n, 0, 0, 0, &cw};
            th_spawn(mix_consumer, &ca[i]);
        }
        for (int i = 0; i < MIX_P; i++) {
            pa[i] = (struct mix_arg){c, never, i, n, 0, 0, 0, &pw};
            th_spawn(mix_producer, &pa[i]);
        }
        gcrt_wg_wait(&pw);
        gcrt_chan_close(c);
        gcrt_wg_wait(&cw);
        long sum = 0, count = 0, bad = 0;
        for (int i = 0; i < MIX_C; i++) sum += ca[i].sum, count += ca[i].count, bad += ca[i].bad;
        for (int i = 0; i < MIX_P; i++) bad += pa[i].bad;
        EXPECT_EQ(bad, 0);
        EXPECT_EQ(count, (long)MIX_P * n);
        EXPECT_EQ(sum, (long)MIX_P * n * (n - 1) / 2);
        EXPECT_EQ(gcrt_chan_len(c), 0);
    }
}

/* time.After: fires once, after at least ns; works as a select timeout;
 * dropped, unfired timers survive collections. */
static void after_worker(void *p) {
    gcrt_wg_t *wg = p;
    gcrt_chan_t *never = gcrt_chan_make(sizeof(int), 0);
    int64_t v = 0;
    struct gcrt_select_case cs[2] = {{never, GCRT_SELECT_RECV, NULL, 0},
                                     {gcrt_chan_after(1000000), GCRT_SELECT_RECV, &v, 0}};
    if (gcrt_select(cs, 2, false) != 1 || v <= 0) abort();
    gcrt_wg_done(wg);
}

static void test_after(void) {
    int64_t t0 = gcrt_nanotime();
    gcrt_chan_t *c = gcrt_chan_after(2000000);
    EXPECT_EQ(gcrt_chan_cap(c), 1);
    int64_t v = 0;
    bool ok = false;
    gcrt_chan_recv(c, &v, &ok);
    EXPECT_TRUE(ok);
    EXPECT_GE(v, t0 + 2000000);
    EXPECT_GE(gcrt_nanotime(), t0 + 2000000);
    EXPECT_FALSE(gcrt_chan_try_recv(c, &v, &ok));                      /* once only */
    for (int i = 0; i < 50; i++) gcrt_chan_after(1000000 + i * 10000); /* dropped */
    gcrt_gc();
    churn();
    gcrt_chan_recv(gcrt_chan_after(3000000), NULL, NULL); /* all 50 have fired */
    gcrt_gc();
    gcrt_wg_t wg = {0};
    gcrt_wg_add(&wg, 4);
    for (int i = 0; i < 4; i++) th_spawn(after_worker, &wg);
    gcrt_wg_wait(&wg);
}

/* A goroutine leak (Gs blocked forever on a channel nobody sends on) is
 * visible through the listing API with its wait reason and start. */
struct leak_arg {
    gcrt_chan_t *c;
    int64_t *id;
};
static void leaker(void *p) {
    struct leak_arg *a = p;
    __atomic_store_n(a->id, gcrt_goid(), __ATOMIC_RELEASE);
    gcrt_chan_recv(a->c, NULL, NULL); /* forever */
}

static void test_leak_listing(void) {
    enum { L = 10 };
    static int64_t ids[2][L]; /* live until exit, like the leaked Gs */
    static struct leak_arg args[2][L];
    int64_t *id = ids[th_mode_go];
    gcrt_chan_t *c = gcrt_chan_make(sizeof(int), 0);
    for (int i = 0; i < L; i++) {
        args[th_mode_go][i] = (struct leak_arg){c, &id[i]};
        th_spawn(leaker, &args[th_mode_go][i]);
    }
    TH_WAIT_UNTIL(th_chan_waiters(c, false) == L);
    static gcrt_goroutine_t buf[4096];
    int64_t n = gcrt_goroutine_list(buf, 4096, GCRT_LIST_THREADS);
    REQUIRE_TRUE(n > 0 && n <= 4096);
    int found = 0;
    for (int64_t k = 0; k < n; k++)
        for (int i = 0; i < L; i++)
            if (buf[k].id == __atomic_load_n(&id[i], __ATOMIC_ACQUIRE)) {
                found++;
                EXPECT_STR_EQ(buf[k].wait_reason, "chan receive");
                EXPECT_EQ(buf[k].status, GCRT_GSTATUS_WAITING);
                EXPECT_GT(buf[k].wait_since_ns, 0);
                EXPECT_EQ(buf[k].is_thread, !th_mode_go);
            }
    EXPECT_EQ(found, L);
}

static void suite(void) {
    RUN(test_order_unbuffered_and_buffered);
    RUN(test_fifo_waiting_senders);
    RUN(test_close_wakes_all_receivers);
    RUN(test_block_forever_reasons);
    RUN(test_ping_pong_pairs);
    RUN(test_ring);
    RUN(test_buffered_ring_mix);
    RUN(test_mpmc_close);
    RUN(test_after);
    RUN(test_leak_listing);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_panics);
    RUN(test_buffered_basics);
    RUN(test_recv_ok_flag);
    RUN(test_nil_nonblocking);
    RUN(test_big_and_empty_elements);
    RUN(test_gc_keeps_buffered_values);
    TH_RUN_BOTH_MODES(suite);
    return th_summary();
}
