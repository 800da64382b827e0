/* test_sched_time.c - sleep and timers from goroutines and threads,
 * blocking calls handing the P over, and sysmon's preemption requests.
 * Timing checks are sanity bounds only (a loaded machine may be slow). */
#include <pthread.h>
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"
#include "lock.h"
#include "sched.h"

static int64_t done_count;

static void wait_done(int64_t n) {
    for (;;) {
        if (__atomic_load_n(&done_count, __ATOMIC_ACQUIRE) >= n) return;
        usleep(200);
    }
}
static void mark_done(void) {
    __atomic_fetch_add(&done_count, 1, __ATOMIC_RELEASE);
}

static int64_t slept_ns[64];
static void sleeper(void *arg) {
    intptr_t i = (intptr_t)arg;
    int64_t t0 = gcrt_nanotime();
    gcrt_sleep((int64_t)(i % 8 + 1) * 1000000);
    slept_ns[i] = gcrt_nanotime() - t0;
    mark_done();
}

static void test_goroutine_sleep(void) {
    done_count = 0;
    for (intptr_t i = 0; i < 64; i++) gcrt_go(sleeper, (void *)i);
    wait_done(64);
    for (int i = 0; i < 64; i++) {
        EXPECT_GE(slept_ns[i], (int64_t)(i % 8 + 1) * 1000000);
        EXPECT_LT(slept_ns[i], (int64_t)(i % 8 + 1) * 1000000 + 2000000000LL);
    }
}

static void test_thread_sleep(void) {
    int64_t t0 = gcrt_nanotime();
    gcrt_sleep(2000000);
    EXPECT_GE(gcrt_nanotime() - t0, 2000000);
    gcrt_sleep(0);
    gcrt_sleep(-5);
}

static int fired;
static void fire(void *arg) {
    __atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
}

static void test_timers(void) {
    gcrt_timer_t a, b, c;
    int fa = 0, fb = 0, fc = 0;
    gcrt_timer_init(&a, fire, &fa);
    gcrt_timer_init(&b, fire, &fb);
    gcrt_timer_init(&c, fire, &fc);
    EXPECT_FALSE(gcrt_timer_reset(&a, 1000000, 0));
    EXPECT_FALSE(gcrt_timer_reset(&b, 3600LL * 1000000000, 0));
    EXPECT_TRUE(gcrt_timer_stop(&b)); /* stopped before firing */
    EXPECT_FALSE(gcrt_timer_stop(&b));
    EXPECT_FALSE(gcrt_timer_reset(&c, 500000, 1000000)); /* a ticker */
    for (int i = 0; i < 2000 && (__atomic_load_n(&fa, __ATOMIC_RELAXED) == 0 ||
                                 __atomic_load_n(&fc, __ATOMIC_RELAXED) < 3);
         i++)
        usleep(1000);
    EXPECT_EQ(__atomic_load_n(&fa, __ATOMIC_RELAXED), 1);
    EXPECT_FALSE(gcrt_timer_stop(&a)); /* already fired */
    EXPECT_GE(__atomic_load_n(&fc, __ATOMIC_RELAXED), 3);
    EXPECT_TRUE(gcrt_timer_stop(&c));
    EXPECT_EQ(fb, 0);
    /* Reset of an armed timer moves it. */
    int fd = 0;
    gcrt_timer_t d;
    gcrt_timer_init(&d, fire, &fd);
    gcrt_timer_reset(&d, 3600LL * 1000000000, 0);
    EXPECT_TRUE(gcrt_timer_reset(&d, 1000, 0));
    for (int i = 0; i < 2000 && __atomic_load_n(&fd, __ATOMIC_RELAXED) == 0; i++) usleep(1000);
    EXPECT_EQ(__atomic_load_n(&fd, __ATOMIC_RELAXED), 1);
    (void)fired;
}

/* A goroutine in a long blocking call must not hold up others: with
 * GOMAXPROCS=1, sysmon gives its P to another M. */
static int64_t others_ran;
static void blocker(void *arg) {
    gcrt_enter_blocking();
    usleep(200000);
    gcrt_exit_blocking();
    mark_done();
}
static void quick(void *arg) {
    __atomic_fetch_add(&others_ran, 1, __ATOMIC_RELAXED);
    mark_done();
}

static void test_blocking_hands_off_p(void) {
    int old = gcrt_gomaxprocs(1);
    done_count = 0;
    others_ran = 0;
    gcrt_go(blocker, NULL);
    usleep(20000); /* let it block */
    for (int i = 0; i < 10; i++) gcrt_go(quick, NULL);
    /* The quick ones finish long before the blocker returns. */
    int64_t t0 = gcrt_nanotime();
    while (__atomic_load_n(&others_ran, __ATOMIC_RELAXED) < 10 &&
           gcrt_nanotime() - t0 < 5000000000LL)
        usleep(1000);
    EXPECT_EQ(__atomic_load_n(&others_ran, __ATOMIC_RELAXED), 10);
    wait_done(11);
    gcrt_sched_stats_t st;
    gcrt_sched_read_stats(&st);
    EXPECT_GE(st.retakes, 1);
    gcrt_gomaxprocs(old);
}

/* A goroutine spinning in C (calling only gcrt_checkpoint) gets asked to
 * yield after 10 ms, so another goroutine runs on the single P. */
static int stop_spinning;
static void spinner(void *arg) {
    while (!__atomic_load_n(&stop_spinning, __ATOMIC_RELAXED)) gcrt_checkpoint();
    mark_done();
}
static void stopper(void *arg) {
    __atomic_store_n(&stop_spinning, 1, __ATOMIC_RELAXED);
    mark_done();
}

static void test_preempt_long_runner(void) {
    int old = gcrt_gomaxprocs(1);
    done_count = 0;
    stop_spinning = 0;
    gcrt_go(spinner, NULL);
    usleep(5000);
    gcrt_go(stopper, NULL);
    wait_done(2);
    gcrt_sched_stats_t st;
    gcrt_sched_read_stats(&st);
    EXPECT_GE(st.preempt_requests, 1);
    gcrt_gomaxprocs(old);
}

int main(void) {
    REQUIRE_EQ(gcrt_init(), 0);
    RUN(test_goroutine_sleep);
    RUN(test_thread_sleep);
    RUN(test_timers);
    RUN(test_blocking_hands_off_p);
    RUN(test_preempt_long_runner);
    return th_summary();
}
