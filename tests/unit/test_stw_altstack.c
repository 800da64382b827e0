/* test_stw_altstack.c - a thread the stop signal finds inside one of the
 * program's own signal handlers running on an alternate signal stack
 * (SA_ONSTACK): the stop must still scan the thread's own stack, where the
 * interrupted code keeps its heap pointers. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gcrt.h"
#include "harness.h"

#define MASK     0x3c3c3c3cu
#define NOINLINE __attribute__((noinline))
enum { OBJ = 512, NOBJ = 64 };

static volatile int in_handler, release_handler;
static uintptr_t masked[NOBJ];
static int pattern_bad;

static void usr1_handler(int sig, siginfo_t *si, void *uc) {
    (void)sig, (void)si, (void)uc;
    __atomic_store_n(&in_handler, 1, __ATOMIC_RELEASE);
    /* A handler that runs a while (a profiler's, a crash reporter's): no
     * safepoint, so the stop signal finds the thread in here. */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 200 * 1000000L);
}

static NOINLINE void hold_and_signal(void) {
    void *volatile keep[NOBJ]; /* the only references: this frame */
    for (int i = 0; i < NOBJ; i++) {
        keep[i] = gcrt_alloc(OBJ);
        memset(keep[i], 0xa5, OBJ);
        masked[i] = (uintptr_t)keep[i] ^ MASK;
    }
    pthread_kill(pthread_self(), SIGUSR1); /* spins in the handler */
    /* Attached, holding the objects, until the collections are over. */
    while (!__atomic_load_n(&release_handler, __ATOMIC_ACQUIRE)) {
    }
    for (int i = 0; i < NOBJ; i++) {
        const unsigned char *p = keep[i];
        for (int k = 0; k < OBJ; k++)
            if (p[k] != 0xa5) {
                pattern_bad++;
                break;
            }
    }
}

static void *thread_main(void *arg) {
    (void)arg;
    gcrt_thread_attach();
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_size = 1 << 16;
    ss.ss_sp = malloc(ss.ss_size);
    stack_t old_ss; /* the sanitizers' own, which they unmap at exit */
    sigaltstack(&ss, &old_ss);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = usr1_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    hold_and_signal();
    sigaltstack(&old_ss, NULL);
    free(ss.ss_sp);
    gcrt_thread_detach();
    return NULL;
}

static NOINLINE int alive(uintptr_t m) {
    void *base;
    void *p = (void *)(m ^ MASK);
    return gcrt_find_object(p, &base, NULL) && base == p;
}

static NOINLINE void churn(void) {
    for (int i = 0; i < 20000; i++) gcrt_keep_alive(gcrt_alloc(OBJ));
}

static void test_stopped_in_altstack_handler(void) {
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    while (!__atomic_load_n(&in_handler, __ATOMIC_ACQUIRE)) usleep(100);
    gcrt_gc();
    gcrt_gc();
    int dead = 0;
    for (int i = 0; i < NOBJ; i++) dead += !alive(masked[i]);
    churn(); /* reuse the freed slots: the thread then sees its objects change */
    __atomic_store_n(&release_handler, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    EXPECT_EQ(dead, 0);
    EXPECT_EQ(pattern_bad, 0);
}

int main(void) {
    gcrt_init();
    RUN(test_stopped_in_altstack_handler);
    return th_summary();
}
