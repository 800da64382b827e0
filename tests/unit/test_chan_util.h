/* test_chan_util.h - helpers shared by the channel, select, sync and pool
 * tests: spawning workers as plain attached threads or as goroutines,
 * waiting (without timing assumptions) until Gs are blocked, and running a
 * call that must die in a forked child.
 *
 * Mode: every test program runs its suite with workers as threads, and
 * again with goroutines (gcrt_go) when TH_GOROUTINES is not "0". */
#ifndef GCRT_TEST_CHAN_UTIL_H
#define GCRT_TEST_CHAN_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gcrt.h"
#include "gcrt_sched.h"
#include "harness.h"
#include "chan.h"

static int th_mode_go; /* 0: threads, 1: goroutines */

/* Weak: lets these tests link before the scheduler has goroutines. */
#pragma weak gcrt_go

struct th_spawn_arg {
    void (*fn)(void *);
    void *arg;
};

static inline void *th_thread_main(void *p) {
    struct th_spawn_arg a = *(struct th_spawn_arg *)p;
    free(p);
    if (gcrt_thread_attach() != 0) {
        fprintf(stderr, "gcrt_thread_attach failed\n");
        abort();
    }
    a.fn(a.arg);
    gcrt_thread_detach();
    return NULL;
}

/* Starts fn(arg) on a new attached thread or as a goroutine (th_mode_go). */
static inline void th_spawn(void (*fn)(void *), void *arg) {
    if (th_mode_go) {
        int64_t id = gcrt_go(fn, arg);
        if (id <= 0) {
            fprintf(stderr, "gcrt_go failed: %lld\n", (long long)id);
            abort();
        }
        return;
    }
    struct th_spawn_arg *a = malloc(sizeof *a);
    a->fn = fn;
    a->arg = arg;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 << 10);
    pthread_t t;
    int rc;
    while ((rc = pthread_create(&t, &at, th_thread_main, a)) == EAGAIN) usleep(1000);
    if (rc != 0) {
        fprintf(stderr, "pthread_create: %d\n", rc);
        abort();
    }
    pthread_attr_destroy(&at);
}

static inline double th_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Polls cond (an expression) for up to 20 s; fails the check if it never
 * holds. Only for waiting until something blocked, never for timing. */
#define TH_WAIT_UNTIL(cond)                                                                        \
    do {                                                                                           \
        double th_t0_ = th_now();                                                                  \
        while (!(cond)) {                                                                          \
            if (th_now() - th_t0_ > 20) {                                                          \
                FAILF("timed out waiting for %s", #cond);                                          \
                break;                                                                             \
            }                                                                                      \
            usleep(200);                                                                           \
        }                                                                                          \
    } while (0)

/* Number of sudogs queued on c (send: sendq, else recvq). */
static inline int th_chan_waiters(gcrt_chan_t *c, bool send) {
    int n = 0;
    gcrt__lock(&c->lock);
    for (gcrt_sudog_t *s = send ? c->sendq.first : c->recvq.first; s; s = s->next) n++;
    gcrt__unlock(&c->lock);
    return n;
}

/* Lets other goroutines (or threads) run. */
static inline void th_yield(void) {
    gcrt__gosched();
}

/* The calling G's record, for checking wait reasons from outside. */
static inline gcrt_g_t *th_self(void) {
    return gcrt__getg();
}

static inline bool th_blocked_with(gcrt_g_t *g, unsigned reason) {
    return g != NULL && __atomic_load_n(&g->status, __ATOMIC_ACQUIRE) == GCRT_G_WAITING &&
           g->waitreason == reason;
}

/* Runs fn(arg) in a forked child with stderr captured. Checks that the
 * child died (exit status `status`, or killed by signal `sig` if status <
 * 0) and that its stderr contains want. */
static inline void th_expect_death(void (*fn)(void *), void *arg, const char *want, int status,
                                   int sig) {
    int fds[2];
    if (pipe(fds) != 0) {
        FAILF("pipe");
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn(arg);
        _exit(77); /* survived */
    }
    close(fds[1]);
    char buf[4096];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = 0;
    close(fds[0]);
    int ws = 0;
    waitpid(pid, &ws, 0);
    if (status >= 0) {
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != status)
            FAILF("child: wait status 0x%x, want exit %d; stderr:\n%s", ws, status, buf);
    } else if (!WIFSIGNALED(ws) || WTERMSIG(ws) != sig) {
        FAILF("child: wait status 0x%x, want signal %d; stderr:\n%s", ws, sig, buf);
    }
    if (strstr(buf, want) == NULL) FAILF("child stderr lacks \"%s\":\n%s", want, buf);
}

/* Runs the suite once with threads and, unless TH_GOROUTINES=0, once with
 * goroutines. */
#define TH_RUN_BOTH_MODES(suite)                                                                   \
    do {                                                                                           \
        th_mode_go = 0;                                                                            \
        fprintf(stderr, "##### workers: threads\n");                                               \
        suite();                                                                                   \
        if (th_env_long("TH_GOROUTINES", 1) && &gcrt_go != NULL) {                                 \
            th_mode_go = 1;                                                                        \
            fprintf(stderr, "##### workers: goroutines\n");                                        \
            suite();                                                                               \
        }                                                                                          \
    } while (0)

#endif
