/* test_stw_resignal.c - how often a stop signals a thread it waits for.
 *
 * A second SIGURG sent while the first is still pending merges with it: it
 * stops nothing sooner and costs the stopper a system call (20-50 us on a
 * virtual machine) and the thread an interrupt. The stopper sends again
 * soon only after the thread's handler ran and could not stop it (an
 * unsafe point, a no-stop region, a handler on an alternate stack), and
 * otherwise only once a millisecond (a lost signal). Two threads:
 *   - one with SIGURG blocked for 30 ms in a C loop: its handler runs when
 *     it unblocks; the stop sends it about one signal per millisecond
 *     (before: one per 50 us, ~600);
 *   - one that a handler of its own keeps on an alternate signal stack for
 *     30 ms, where the stop signal is refused: every refusal is followed by
 *     another signal, and the one after the handler returned stops it.
 * Counts, not times: the bounds scale with how long the stop took. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "sched.h"

enum { HOLD_MS = 30 };

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void spin_ms(int ms) {
    int64_t end = now_ns() + (int64_t)ms * 1000000;
    while (now_ns() < end) {
    }
}

static int ready, quit;
static int64_t unblocked_at, stopped_at; /* atomic */

static void *blocked_thread(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    sigset_t urg, old;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    pthread_sigmask(SIG_BLOCK, &urg, &old);
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    spin_ms(HOLD_MS); /* the stop begins meanwhile */
    __atomic_store_n(&unblocked_at, now_ns(), __ATOMIC_RELEASE);
    pthread_sigmask(SIG_SETMASK, &old, NULL); /* the pending signal stops it */
    while (!__atomic_load_n(&quit, __ATOMIC_ACQUIRE)) {
    }
    gcrt_thread_detach();
    return NULL;
}

static void usr1_handler(int sig) {
    (void)sig;
    spin_ms(HOLD_MS);
}

static void *altstack_thread(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    static char stack[1 << 16];
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = stack;
    ss.ss_size = sizeof stack;
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = usr1_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    pthread_kill(pthread_self(), SIGUSR1); /* 30 ms in the handler */
    while (!__atomic_load_n(&quit, __ATOMIC_ACQUIRE)) {
    }
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    gcrt_thread_detach();
    return NULL;
}

static void one(void *(*fn)(void *), struct gcrt_stw_detail *d, int64_t *dt) {
    __atomic_store_n(&ready, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&quit, 0, __ATOMIC_RELAXED);
    pthread_t t;
    REQUIRE_EQ(pthread_create(&t, NULL, fn, NULL), 0);
    while (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
    }
    spin_ms(2); /* into its loop or its handler */
    *dt = gcrt__stop_the_world("test");
    __atomic_store_n(&stopped_at, now_ns(), __ATOMIC_RELEASE);
    gcrt__stw_last_detail(d);
    gcrt__start_the_world();
    __atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
}

static void test_blocked_not_flooded(void) {
    struct gcrt_stw_detail d;
    int64_t dt;
    one(blocked_thread, &d, &dt);
    fprintf(stderr, "  SIGURG blocked: stop %.1f ms, %d signals, stopped by the signal %d\n",
            dt / 1e6, d.sent, d.by_signal);
    /* It could not stop before it unblocked the signal. */
    EXPECT_GT(__atomic_load_n(&unblocked_at, __ATOMIC_ACQUIRE), 0);
    EXPECT_GE(__atomic_load_n(&stopped_at, __ATOMIC_ACQUIRE),
              __atomic_load_n(&unblocked_at, __ATOMIC_ACQUIRE));
    EXPECT_EQ(d.by_signal, 1);
    EXPECT_GE(d.sent, 1);
    /* One, then one per millisecond the handler did not run. */
    EXPECT_LE(d.sent, 2 + dt / 1000000);
}

static void test_refused_sent_again(void) {
    struct gcrt_stw_detail d;
    int64_t dt;
    one(altstack_thread, &d, &dt);
    fprintf(stderr,
            "  on an alternate stack: stop %.1f ms, %d signals, %d refused, stopped by the "
            "signal %d\n",
            dt / 1e6, d.sent, d.refused_unsafe, d.by_signal);
    EXPECT_EQ(d.by_signal, 1);
    /* The first signal waits, blocked, until the handler returns (SIGURG
     * is in no mask of the program's: a signal interrupts its handler); the
     * refusal, if any, is followed by another signal. */
    EXPECT_GE(d.sent, 1 + d.refused_unsafe);
    EXPECT_LE(d.sent, 2 + d.refused_unsafe + dt / 1000000);
}

int main(void) {
#if defined(__SANITIZE_THREAD__)
    /* TSan runs a handler only at the thread's next interceptor call. */
    fprintf(stderr, "test_stw_resignal: skipped under TSan\n");
    return 0;
#endif
    gcrt_init();
    gcrt_gomaxprocs(0); /* starts the scheduler: the stop signal's handler */
    RUN(test_blocked_not_flooded);
    RUN(test_refused_sent_again);
    return th_summary();
}
