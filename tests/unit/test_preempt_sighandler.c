/* test_preempt_sighandler.c - asynchronous preemption (preempt.c) must not
 * switch a goroutine out while it runs a signal handler of the program's
 * on the goroutine stack. A handler installed with SA_NODEFER (and no
 * sa_mask) runs with the M's own signal mask, so the signal-mask test
 * does not catch it. Moved to another thread there, the handler's return
 * (rt_sigreturn) happens on the new thread, and the kernel restores the
 * frame's uc_stack there: the new thread's alternate signal stack becomes
 * the old thread's, two Ms then share one signal stack; and the code the
 * handler interrupted (maybe inside libc) resumes on another thread. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "sched_internal.h"

static volatile int stop_spinners, moved_in_handler, done;
static volatile int bad_altstack, checked;

static __attribute__((noinline)) void spin_some(void) {
    for (volatile int i = 0; i < 100000; i++) {
    }
}

static __attribute__((unused)) void usr1_handler(int sig) {
    (void)sig;
    gcrt_msched_t *ms0 = gcrt__getms();
    int64_t deadline = gcrt_nanotime() + 3000000000LL; /* bounds the attempt only */
    while (gcrt_nanotime() < deadline) {
        spin_some();
        if (gcrt__getms() != ms0) {
            moved_in_handler = 1;
            break;
        }
    }
}

static __attribute__((noinline, unused)) void spinner(void *arg) {
    (void)arg;
    while (!stop_spinners) spin_some();
}

static __attribute__((unused)) void victim(void *arg) {
    (void)arg;
    raise(SIGUSR1); /* the handler runs here, on this goroutine's stack */
    for (int i = 0; i < 100 && !checked; i++) {
        gcrt_msched_t *a = gcrt__getms();
        stack_t cur;
        sigaltstack(NULL, &cur);
        gcrt_msched_t *b = gcrt__getms();
        if (a != b || !a->altstack) continue;
        checked = 1;
        if (cur.ss_sp != a->altstack || (cur.ss_flags & SS_DISABLE)) bad_altstack = 1;
    }
    stop_spinners = 1;
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
}

static void test_no_preempt_in_signal_handler(void) {
    gcrt__sched_start();
#if defined(__SANITIZE_THREAD__)
    fprintf(stderr, "%s: asynchronous preemption is off under TSan: skipped\n", th_current);
    return;
#else
    REQUIRE_EQ(gcrt__async_preempt_enabled(), 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = usr1_handler;
    sa.sa_flags = SA_NODEFER; /* no SA_ONSTACK: on the goroutine stack */
    sigemptyset(&sa.sa_mask);
    REQUIRE_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    int old = gcrt_gomaxprocs(2);
    gcrt_go(spinner, NULL);
    gcrt_go(spinner, NULL);
    gcrt_go(victim, NULL);
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) usleep(1000);
    fprintf(stderr, "moved in handler: %d, checked: %d\n", moved_in_handler, checked);
    EXPECT_EQ(moved_in_handler, 0);
    EXPECT_EQ(bad_altstack, 0);
    gcrt_gomaxprocs(old);
#endif
}

int main(void) {
    RUN(test_no_preempt_in_signal_handler);
    return th_summary();
}
