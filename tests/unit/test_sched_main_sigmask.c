/* test_sched_main_sigmask.c - gcrt_main called with signals blocked (the
 * usual set-up of a program that waits for signals with sigwait or a
 * signalfd in one thread: block them all in main before anything else).
 * The main thread becomes a runtime M; like the Ms the runtime creates
 * (mthread.c: mstart), it must take the stop signal and the overflow
 * report, and asynchronous preemption must work on it: a goroutine in a
 * pure C loop there loses its P after about 10 ms. */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "gcrt_sched.h"
#include "harness.h"
#include "sched_internal.h"

static volatile int flag, spinning, gave_up, on_main_thread;

static __attribute__((noinline)) void spin_on_flag(void *arg) {
    (void)arg;
    on_main_thread = gettid() == getpid();
    spinning = 1;
    int64_t end = gcrt_nanotime() + 3LL * 1000 * 1000 * 1000;
    for (unsigned long i = 1; !flag; i++) {
        if (i % (1ul << 24) == 0 && gcrt_nanotime() > end) {
            gave_up = 1; /* never preempted: the main M holds the only P */
            break;
        }
    }
}

/* A stop-the-world (here the goroutine listing's) from an attached thread
 * while the spinner runs on the main M: the stop signal must reach it. */
static int64_t stw_ns = -1;
static void *lister(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    while (!spinning) usleep(1000);
    usleep(2000);
    int64_t t0 = gcrt_nanotime();
    gcrt_goroutine_t buf[8];
    gcrt_goroutine_list(buf, 8, 0);
    stw_ns = gcrt_nanotime() - t0;
    gcrt_thread_detach();
    return NULL;
}

static void test_preempt_on_main_m(void) {
    gcrt__sched_start();
#if defined(__SANITIZE_THREAD__)
    fprintf(stderr, "%s: asynchronous preemption is off under TSan: skipped\n", th_current);
    return;
#endif
    REQUIRE_EQ(gcrt__async_preempt_enabled(), 1);
    int old = gcrt_gomaxprocs(1);
    gcrt_gosched(); /* off the P that GOMAXPROCS may just have disabled */
    /* Goroutine 1 holds the main M's P: the spinner starts in its
     * runnext and runs on this thread once we sleep. */
    pthread_t t;
    REQUIRE_EQ(pthread_create(&t, NULL, lister, NULL), 0);
    gcrt_go(spin_on_flag, NULL);
    /* On a loaded machine our 1 ms timer may fire before the scheduler
     * got to the spinner, and we run first again (CI, 2026-12-02): sleep
     * until it has started. */
    for (int i = 0; i < 1000 && !spinning; i++) gcrt_sleep(1000 * 1000);
    /* We run again only if the spinner was preempted. */
    EXPECT_EQ(spinning, 1);
    EXPECT_EQ(on_main_thread, 1); /* where this test is about */
    flag = 1;
    EXPECT_EQ(gave_up, 0);
    gcrt_pthread_join(t, NULL);
    fprintf(stderr, "stop-the-world took %lld us\n", (long long)stw_ns / 1000);
    EXPECT_LT(stw_ns, 1000LL * 1000 * 1000);
    int64_t st[GCRT_PREEMPT_NSTATS];
    gcrt__preempt_stats(st);
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    fprintf(stderr,
            "preempt done %lld signals %lld sigmask-refused %lld; SIGURG blocked here: %d\n",
            (long long)st[GCRT_PREEMPT_DONE], (long long)st[GCRT_PREEMPT_SIGNALS],
            (long long)st[GCRT_PREEMPT_SIGMASK], sigismember(&cur, SIGURG));
    gcrt_gomaxprocs(old);
}

static int real_main(int argc, char **argv) {
    (void)argc, (void)argv;
    RUN(test_preempt_on_main_m);
    return th_summary();
}

int main(int argc, char **argv) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    int err = gcrt_main(real_main, argc, argv);
    fprintf(stderr, "gcrt_main returned %d\n", err);
    return 1;
}
